package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Id ranges are far apart and above 2^32 so that clients storing ids in
// int32 or float32, or mixing up ticket and user ids, fail loudly.
const (
	ticketIDBase    int64 = 35436000000
	userIDBase      int64 = 37792250000
	genCommentBase  int64 = 40000000000
	genAuditBase    int64 = 60000000000
	extCommentBase  int64 = 50000000000
	extAuditBase    int64 = 70000000000
	maxGenComments        = 200
	commentIDStride       = 256
)

// Indices of the fixed records every dataset starts with (see Special).
const (
	userAdmin = 0
	// users 1..3 are the case-variant agents of AgentEmails.
	userBobMiller    = 4
	userAlexSmith    = 5
	userTabs         = 6
	userNoEmail      = 7
	userUnicode      = 8
	userSpaces       = 9
	firstFreeEndUser = 10

	sharedBlockStart = 100
	sharedBlockLen   = 300
)

const (
	stNew uint8 = iota
	stOpen
	stPending
	stHold
	stSolved
	stClosed
)

var statusNames = []string{"new", "open", "pending", "hold", "solved", "closed"}
var priorityNames = []string{"", "low", "normal", "high", "urgent"} // 0 = null
var typeNames = []string{"", "question", "incident", "problem", "task"}

const (
	tyQuestion uint8 = 1
	tyIncident uint8 = 2
	tyProblem  uint8 = 3
	tyTask     uint8 = 4
)

const (
	roleEndUser uint8 = iota
	roleAgent
	roleAdmin
)

var roleNames = []string{"end-user", "agent", "admin"}

// via channels
const (
	viaWeb uint8 = iota
	viaEmail
	viaAPI
)

var viaChannels = []string{"web", "email", "api"}
var viaEventNames = []string{"Web form", "Mail", "Web service"}

// ticket flags
const (
	flDeleted uint8 = 1 << iota
	flBadDate
	flBadRequester
)

// ticket is kept small because a million of them must fit comfortably;
// everything derivable from the seed (comments, collaborators, created_at of
// generated comments) is recomputed on demand instead of stored.
type ticket struct {
	created, updated, generated int64
	logPos                      int32 // index of its live entry in Server.tlog
	requester, submitter        int32
	assignee                    int32 // -1 = unassigned
	subject                     int32 // string table index, -1 = null
	external                    int32 // string table index, -1 = null
	problem                     int32 // ticket index, -1 = none
	status, priority, typ       uint8
	nGen                        uint8 // generated comments/audits
	flags                       uint8
	via                         uint8
	ext                         *ticketExt
}

// ticketExt holds what writes added to a ticket.
type ticketExt struct {
	comments    []extComment
	audits      []extAudit
	collab      []int32
	collabSet   bool
	description string  // for tickets created through the API (nGen == 0)
	updates     []int64 // unix nanos of recent API updates, for the per-ticket limit
	tags        []string
	fields      []customField // custom fields set since generation, in the order first set
}

// customField is one custom field value of a ticket, as raw JSON (null once cleared).
type customField struct {
	id    int64
	value string
}

type extComment struct {
	id, auditID int64
	ts          int64
	author      int32
	body        string
	html        string
	public      bool
	via         uint8
}

type change struct {
	field     string
	prev, val string // raw JSON values
}

type extAudit struct {
	id      int64
	ts      int64
	author  int32
	via     uint8
	create  bool
	changes []change
	comment int32 // index into ext.comments, -1 = none
}

type user struct {
	name, email, externalID string // "" = null
	role                    uint8
	created, updated        int64
}

type tlogEntry struct {
	ts  int64
	tix int32
}

type evEntry struct {
	ts  int64
	tix int32
	a   int32 // audit index: < nGen generated, else ext.audits[a-nGen]
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s *Server) h(parts ...uint64) uint64 {
	x := uint64(s.o.Seed)
	for _, p := range parts {
		x = mix(x ^ p)
	}
	return mix(x)
}

// salts keep the per-purpose hash streams independent.
const (
	saltStatus uint64 = iota + 1
	saltPriority
	saltType
	saltSubject
	saltRequester
	saltAssignee
	saltSubmitter
	saltCollab
	saltNComments
	saltGap
	saltBody
	saltPublic
	saltAuthor
	saltCreated
	saltName
	saltVia
	saltNull
)

var subjectPool = []string{
	"Printer on fire",
	"Can't log in to my account",
	"Refund request for order #4711",
	"Re: <b>Invoice</b> overdue & unpaid",
	"Ünïcödé: 日本語の件名 — naïve café 🚀",
	"Password reset link expired",
	"Feature request: dark mode",
	"App crashes on startup (iOS 17)",
	"<script>alert('xss')</script> in profile",
	"Billing address \"wrong\" on receipt",
	"Shipment delayed \\ tracking not updating",
	"Заказ не пришёл",
	"Demande de remboursement – commande 2024",
	"Tab\tseparated\tsubject",
	"Lost parcel",
	"API returns 500 for /orders",
	"Upgrade to Enterprise plan",
	"  Leading and trailing spaces  ",
	"Question about GDPR data export",
	"Two-factor authentication not working",
}

var bodyPool = []string{
	"Hello, I have a problem with my order. Can you help?",
	"Thanks for reaching out! We're looking into it.",
	"Could you send a screenshot of the error?",
	"Still broken after the update 😞",
	"Internal note: customer is on the Enterprise plan, escalate if needed.",
	"<p>Rendered <b>HTML</b> &amp; entities &lt;kept&gt;</p>",
	"Line one\nLine two\n\nLine four after a blank line",
	"Grüße aus München — ça va? 你好，世界",
	"Please see ticket #123 & the attached log.\tTabbed text.",
	"The fix has been deployed. Please confirm it works for you.",
	"Quote \"this\" and backslash \\ and unicode \u2028 separator",
	"I'm closing this ticket as solved. Reply to reopen.",
	"Customer called again, same issue.",
	"Merci beaucoup pour votre aide !",
}

var firstNames = []string{"Bob", "Alex", "Maria", "José", "Zoë", "Łukasz", "Søren", "Ольга", "李", "Aoife", "Mohammed", "Chloé", "Jean-Luc", "O'Neil", "Priya", "Kenji"}
var middleNames = []string{"M.", "Anne", "J.", "van", "Lee"}
var lastNames = []string{"Miller", "Smith", "Müller", "García", "Nguyen", "O'Hara", "Kowalski", "Ivanova", "Wang", "Dubois", "Okafor", "Schmidt", "da Silva"}
var prefixes = []string{"Mr.", "Mrs", "Ms.", "Dr", "Dr.", "Prof.", "Miss"}
var suffixes = []string{"Jr.", "Sr", "III", "PhD", "MD", "Jnr."}

// fixedAgents are the agents every dataset has at user indices 1..3; their
// emails differ only in letter case from addresses a CRM would hold.
var fixedAgents = []struct{ name, email string }{
	{"Agent One", "Agent.One@Example.com"},
	{"Agent Two", "agent.two@example.com"},
	{"Agent Three", "AGENT.THREE@EXAMPLE.COM"},
}

func isAgentIndex(i int) bool { return i <= 3 || i%20 == 0 }

func (s *Server) genUsers() {
	n := s.o.Users
	s.users = make([]user, n, n+1024)
	base := s.base - 30*86400
	for i := range n {
		u := &s.users[i]
		u.created = base + int64(i)*10
		u.updated = u.created
		switch {
		case i == userAdmin:
			u.name, u.email, u.role = "Sim Admin", s.o.Email, roleAdmin
		case i <= 3:
			u.name, u.email, u.role = fixedAgents[i-1].name, fixedAgents[i-1].email, roleAgent
		case i == userBobMiller:
			u.name, u.email = "Mr. Bob Miller Jr.", "bob.miller@example.org"
		case i == userAlexSmith:
			u.name, u.email = "Dr Alex M. Smith", "alex.smith@example.org"
		case i == userTabs:
			u.name, u.email = "Mr\tAlex\tM.\tSmith\tJr", "alex.tabs@example.org"
		case i == userNoEmail:
			u.name = "Phone Only Customer"
		case i == userUnicode:
			u.name, u.email = "Zoë <b>Ñúñez</b> 李雷", "zoe.nunez@example.org"
		case i == userSpaces:
			u.name, u.email = "  Alex   ", "alex.spaces@example.org"
		case i%20 == 0:
			u.role = roleAgent
			if i%200 == 0 {
				u.role = roleAdmin
			}
			u.name = s.genName(i, false)
			if i%60 == 0 {
				u.email = fmt.Sprintf("Agent%d@Example.com", i)
			} else {
				u.email = fmt.Sprintf("agent%d@example.com", i)
			}
		default:
			u.name = s.genName(i, true)
			if i%25 != 13 {
				u.email = fmt.Sprintf("user%d@example.org", i)
			}
		}
		if u.email != "" {
			s.emailIdx[strings.ToLower(u.email)] = int32(i)
		}
		if u.role != roleEndUser {
			s.agents = append(s.agents, int32(i))
		}
	}
}

func (s *Server) genName(i int, fancy bool) string {
	h := s.h(saltName, uint64(i))
	parts := make([]string, 0, 5)
	if fancy && h%100 < 15 {
		parts = append(parts, prefixes[(h>>8)%uint64(len(prefixes))])
	}
	parts = append(parts, firstNames[(h>>16)%uint64(len(firstNames))])
	if fancy && (h>>24)%100 < 20 {
		parts = append(parts, middleNames[(h>>32)%uint64(len(middleNames))])
	}
	parts = append(parts, lastNames[(h>>40)%uint64(len(lastNames))])
	if fancy && (h>>48)%100 < 10 {
		parts = append(parts, suffixes[(h>>56)%uint64(len(suffixes))])
	}
	sep := " "
	if fancy && (h>>4)%100 < 3 {
		sep = "\t"
	}
	return strings.Join(parts, sep)
}

func (s *Server) endUser(h uint64) int32 {
	n := uint64(len(s.users))
	for {
		i := int(h % n)
		if !isAgentIndex(i) && i != userNoEmail {
			return int32(i)
		}
		h = mix(h)
	}
}

func (s *Server) genTickets() {
	n := s.o.Tickets
	s.tickets = make([]ticket, n, n+1024)
	nSubj := int32(len(subjectPool))
	for i := range subjectPool {
		s.intern(subjectPool[i])
	}
	sharedN := min(sharedBlockLen, max(0, n-sharedBlockStart-1))
	var sharedTS int64
	if sharedN > 0 {
		sharedTS = s.createdAt(sharedBlockStart+sharedN) + 2*86400
	}
	s.sharedTS = sharedTS
	for i := range n {
		t := &s.tickets[i]
		u := uint64(i)
		t.created = s.createdAt(i)
		t.requester = s.endUser(s.h(saltRequester, u))
		t.assignee = s.agents[s.h(saltAssignee, u)%uint64(len(s.agents))]
		if s.h(saltAssignee, u, 1)%7 == 0 {
			t.assignee = -1
		}
		t.submitter = t.requester
		if s.h(saltSubmitter, u)%5 == 0 && t.assignee >= 0 {
			t.submitter = t.assignee
		}
		t.subject = int32(s.h(saltSubject, u) % uint64(nSubj))
		if s.h(saltNull, u)%40 == 0 {
			t.subject = -1
		}
		t.external, t.problem = -1, -1
		t.via = uint8(s.h(saltVia, u) % 3)
		ps := s.h(saltStatus, u) % 100
		switch {
		case ps < 8:
			t.status = stNew
		case ps < 33:
			t.status = stOpen
		case ps < 48:
			t.status = stPending
		case ps < 55:
			t.status = stHold
		case ps < 80:
			t.status = stSolved
		default:
			t.status = stClosed
		}
		t.priority = uint8(s.h(saltPriority, u) % 5)
		switch pt := s.h(saltType, u) % 8; {
		case pt < 2:
			t.typ = 0
		case pt < 6:
			t.typ = tyQuestion
		default:
			t.typ = tyTask
		}
		switch i % 11 {
		case 3:
			t.typ = tyProblem
		case 4:
			t.typ, t.problem = tyIncident, int32(i-1)
		}
		if i%50 == 25 {
			t.external = s.intern(fmt.Sprintf("legacy-%d", i/100))
		}
		if i%97 == 50 {
			t.flags |= flDeleted
		}
		c := s.o.CommentsPerTicket
		t.nGen = uint8(min(maxGenComments, max(1, c+int(s.h(saltNComments, u)%3)-1)))
		s.applySpecial(i, t)
		if t.status == stNew {
			t.assignee, t.nGen = -1, 1
			if t.submitter != t.requester {
				t.submitter = t.requester
			}
		}
		if i >= sharedBlockStart && i < sharedBlockStart+sharedN {
			t.updated = sharedTS
		} else {
			t.updated = s.auditTS(i, t, int(t.nGen)-1)
		}
		t.generated = t.updated
	}
	for j, i := range s.badIndices() {
		if j%2 == 0 {
			s.tickets[i].flags |= flBadDate
		} else {
			s.tickets[i].flags |= flBadRequester
		}
	}
	for i := range s.tickets {
		if e := s.tickets[i].external; e >= 0 {
			s.extIdx[e] = append(s.extIdx[e], int32(i))
		}
	}
	s.tlog = make([]tlogEntry, n, n+1024)
	for i := range n {
		s.tlog[i] = tlogEntry{s.tickets[i].generated, int32(i)}
	}
	slices.SortFunc(s.tlog, func(a, b tlogEntry) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.tix, b.tix))
	})
	for p, e := range s.tlog {
		s.tickets[e.tix].logPos = int32(p)
	}
	total := 0
	for i := range s.tickets {
		total += int(s.tickets[i].nGen)
	}
	s.elog = make([]evEntry, 0, total+1024)
	for i := range s.tickets {
		t := &s.tickets[i]
		for a := range int(t.nGen) {
			s.elog = append(s.elog, evEntry{s.auditTS(i, t, a), int32(i), int32(a)})
		}
	}
	slices.SortFunc(s.elog, func(a, b evEntry) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.tix, b.tix), cmp.Compare(a.a, b.a))
	})
	if len(s.elog) > 0 {
		s.lastTS = s.elog[len(s.elog)-1].ts
	}
	if len(s.tlog) > 0 {
		s.lastTS = max(s.lastTS, s.tlog[len(s.tlog)-1].ts)
	}
}

// Special ticket indices; applySpecial forces their properties so tests can
// rely on them whatever the seed.
const (
	spOpen = iota
	spClosed
	spDeleted
	spProblem
	spIncident
	spLarge
	spNullSubject
	spUnassigned
	spCollaborators
	spHTMLSubject
	spUnicodeRequester
	spPrivateComments
	spOtherAgentComment
	spSolved
	spPending
	spHold
	spNew
	spTask
	spNullPriority
	spBobRequester
	numSpecial
)

func (s *Server) applySpecial(i int, t *ticket) {
	switch i {
	case spOpen:
		t.status, t.flags = stOpen, 0
	case spClosed:
		t.status, t.flags = stClosed, 0
	case spDeleted:
		t.status, t.flags = stSolved, flDeleted
	case spProblem:
		t.typ, t.problem, t.status, t.flags = tyProblem, -1, stOpen, 0
	case spIncident:
		t.typ, t.problem, t.status, t.flags = tyIncident, spProblem, stOpen, 0
	case spLarge:
		t.status, t.flags = stOpen, 0
	case spNullSubject:
		t.subject, t.status, t.flags = -1, stOpen, 0
	case spUnassigned:
		t.assignee, t.status, t.flags = -1, stOpen, 0
		t.submitter = t.requester
	case spCollaborators, spPrivateComments, spOtherAgentComment:
		t.status, t.flags = stOpen, 0
		t.nGen = max(t.nGen, 3)
	case spHTMLSubject:
		t.subject, t.status, t.flags = 3, stOpen, 0
	case spUnicodeRequester:
		t.requester, t.submitter, t.status, t.flags = userUnicode, userUnicode, stOpen, 0
		t.subject = 4
	case spSolved:
		t.status, t.flags = stSolved, 0
	case spPending:
		t.status, t.flags = stPending, 0
	case spHold:
		t.status, t.flags = stHold, 0
	case spNew:
		t.status, t.flags = stNew, 0
	case spTask:
		t.typ, t.status, t.flags, t.problem = tyTask, stOpen, 0, -1
	case spNullPriority:
		t.priority, t.typ, t.status, t.flags, t.problem = 0, 0, stOpen, 0, -1
	case spBobRequester:
		t.requester, t.submitter, t.status, t.flags = userBobMiller, userBobMiller, stOpen, 0
	}
	if i < numSpecial && t.status != stClosed && t.status != stNew && t.assignee < 0 && i != spUnassigned {
		t.assignee = 1 // Agent One, so the case-variant email is exercised
	}
	if i < numSpecial && i != spIncident && t.typ == tyIncident {
		t.typ, t.problem = tyQuestion, -1
	}
}

func (s *Server) badIndices() []int {
	b := s.o.BadTickets
	n := s.o.Tickets
	free := n - numSpecial
	if b <= 0 || free <= 0 {
		return nil
	}
	b = min(b, free)
	out := make([]int, b)
	for j := range b {
		out[j] = numSpecial + j*free/b
	}
	return out
}

func (s *Server) createdAt(i int) int64 {
	return s.base + int64(i)*60 + int64(s.h(saltCreated, uint64(i))%50)
}

// auditTS is when generated audit a of ticket i happened. Audits are hours
// apart and tickets a minute apart, so far fewer than 500 events share a
// second and the time-based event stream cannot stall.
func (s *Server) auditTS(i int, t *ticket, a int) int64 {
	ts := t.created
	shared := s.sharedTS != 0 && i >= sharedBlockStart && i < sharedBlockStart+sharedBlockLen
	if shared && a == int(t.nGen)-1 && a > 0 {
		return s.sharedTS
	}
	for k := 1; k <= a; k++ {
		if shared {
			ts += 60
		} else {
			ts += 600 + int64(s.h(saltGap, uint64(i), uint64(k))%129600)
		}
	}
	return ts
}

// genComment describes generated comment k of ticket i.
func (s *Server) genComment(i int, t *ticket, k int) (bodyIdx int, public bool, author int32) {
	h := s.h(saltBody, uint64(i), uint64(k))
	bodyIdx = int(h % uint64(len(bodyPool)))
	if i == spLarge && k == 0 {
		bodyIdx = len(bodyPool) // the large body
	}
	public = k == 0 || s.h(saltPublic, uint64(i), uint64(k))%4 != 0
	if i == spPrivateComments && k > 0 {
		public = false
	}
	author = t.requester
	if k > 0 {
		ha := s.h(saltAuthor, uint64(i), uint64(k)) % 10
		switch {
		case ha == 0 || (i == spOtherAgentComment && k == 1):
			author = s.otherAgent(t, h)
		case ha <= 5 && t.assignee >= 0:
			author = t.assignee
		}
	}
	return
}

// otherAgent picks an agent who is neither assignee nor submitter, so the
// comment author is not side-loaded with the ticket.
func (s *Server) otherAgent(t *ticket, h uint64) int32 {
	for range 16 {
		a := s.agents[h%uint64(len(s.agents))]
		if a != t.assignee && a != t.submitter && a != userAdmin {
			return a
		}
		h = mix(h)
	}
	return s.agents[len(s.agents)-1]
}

func (s *Server) collaborators(i int, t *ticket) []int32 {
	if t.ext != nil && t.ext.collabSet {
		return t.ext.collab
	}
	if i != spCollaborators && (i >= len(s.tickets) || i%9 != 8 || t.nGen == 0) {
		return nil
	}
	h := s.h(saltCollab, uint64(i))
	c := []int32{s.endUser(h)}
	if h%2 == 0 || i == spCollaborators {
		c = append(c, s.endUser(mix(h)))
	}
	if c[0] == t.requester {
		c = c[1:]
	}
	return c
}

func largeBody() string {
	var b strings.Builder
	line := "This is a very long description line with some Unicode — ✓ — and <html> & \"quotes\".\n"
	for b.Len() < 200*1024 {
		b.WriteString(line)
	}
	return b.String()
}

func (s *Server) intern(str string) int32 {
	if i, ok := s.strIdx[str]; ok {
		return i
	}
	i := int32(len(s.strs))
	s.strs = append(s.strs, str)
	s.strsJSON = append(s.strsJSON, appendJSONString(nil, str))
	s.strIdx[str] = i
	return i
}
