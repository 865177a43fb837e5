package sim

import (
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendJSONString escapes like encoding/json (including <, > and &, as
// Rails does too), without reflection, because rendering dominates export
// page cost.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendTime(b []byte, unix int64) []byte {
	b = append(b, '"')
	b = time.Unix(unix, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, '"')
}

func appendKey(b []byte, comma bool, key string) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

func appendOptStr(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

func (s *Server) userID(u int32) int64 { return userIDBase + int64(u) }

func (s *Server) appendUserRef(b []byte, u int32) []byte {
	if u < 0 {
		return append(b, "null"...)
	}
	return appendInt(b, s.userID(u))
}

func ticketID(i int32) int64 { return ticketIDBase + int64(i) + 1 }

func htmlBody(body string) string {
	esc := html.EscapeString(body)
	esc = strings.ReplaceAll(esc, "\n", "<br>")
	return `<div class="zd-comment" dir="auto"><p dir="auto">` + esc + `</p></div>`
}

// description is the first comment's text.
func (s *Server) description(i int32, t *ticket) []byte {
	if t.nGen == 0 {
		if t.ext != nil && len(t.ext.comments) > 0 {
			return appendJSONString(nil, t.ext.comments[0].body)
		}
		return []byte(`""`)
	}
	bi, _, _ := s.genComment(int(i), t, 0)
	return s.bodyJSON[bi]
}

func (s *Server) statusName(t *ticket) string {
	if t.flags&flDeleted != 0 {
		return "deleted"
	}
	return statusNames[t.status]
}

// appendTicket renders a ticket like GET /api/v2/tickets/{id}.json does.
func (s *Server) appendTicket(b []byte, i int32) []byte {
	t := &s.tickets[i]
	id := ticketID(i)
	b = append(b, `{"url":`...)
	b = append(b, '"')
	b = append(b, s.baseURL...)
	b = append(b, "/api/v2/tickets/"...)
	b = appendInt(b, id)
	b = append(b, `.json","id":`...)
	b = appendInt(b, id)
	b = appendKey(b, true, "external_id")
	if t.external >= 0 {
		b = append(b, s.strsJSON[t.external]...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"via":{"channel":"`...)
	b = append(b, viaChannels[t.via]...)
	b = append(b, `","source":{"from":{},"to":{},"rel":null}}`...)
	b = appendKey(b, true, "created_at")
	if t.flags&flBadDate != 0 {
		b = append(b, `"not-a-date"`...)
	} else {
		b = appendTime(b, t.created)
	}
	b = appendKey(b, true, "updated_at")
	b = appendTime(b, t.updated)
	b = appendKey(b, true, "generated_timestamp")
	b = appendInt(b, t.generated)
	b = appendKey(b, true, "type")
	b = appendEnum(b, typeNames[t.typ])
	b = appendKey(b, true, "subject")
	if t.subject >= 0 {
		b = append(b, s.strsJSON[t.subject]...)
	} else {
		b = append(b, "null"...)
	}
	b = appendKey(b, true, "raw_subject")
	if t.subject >= 0 {
		b = append(b, s.strsJSON[t.subject]...)
	} else {
		b = append(b, "null"...)
	}
	b = appendKey(b, true, "description")
	b = append(b, s.description(i, t)...)
	b = appendKey(b, true, "priority")
	b = appendEnum(b, priorityNames[t.priority])
	b = appendKey(b, true, "status")
	b = appendJSONString(b, s.statusName(t))
	b = append(b, `,"recipient":"support@example.zendesk.com","requester_id":`...)
	if t.flags&flBadRequester != 0 {
		b = append(b, `"abc"`...)
	} else {
		b = s.appendUserRef(b, t.requester)
	}
	b = appendKey(b, true, "submitter_id")
	b = s.appendUserRef(b, t.submitter)
	b = appendKey(b, true, "assignee_id")
	b = s.appendUserRef(b, t.assignee)
	b = append(b, `,"organization_id":null,"group_id":null,"collaborator_ids":[`...)
	collab := s.collaborators(int(i), t)
	for j, c := range collab {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendInt(b, s.userID(c))
	}
	b = append(b, `],"follower_ids":[],"email_cc_ids":[],"forum_topic_id":null,"problem_id":`...)
	if t.problem >= 0 {
		b = appendInt(b, ticketID(t.problem))
	} else {
		b = append(b, "null"...)
	}
	b = appendKey(b, true, "has_incidents")
	b = strconv.AppendBool(b, t.typ == tyProblem && s.hasIncidents(i))
	b = append(b, `,"is_public":true,"due_at":`...)
	if t.typ == tyTask {
		b = appendTime(b, t.created+7*86400)
	} else {
		b = append(b, "null"...)
	}
	b = appendTagsAndFields(b, t)
	b = append(b, `,"satisfaction_rating":null,"sharing_agreement_ids":[],"custom_status_id":`...)
	b = appendInt(b, 1000+int64(t.status))
	b = append(b, `,"followup_ids":[],"ticket_form_id":null,"brand_id":360000000001,"allow_channelback":false,"allow_attachments":true,"from_messaging_channel":false}`...)
	return b
}

func (s *Server) hasIncidents(i int32) bool {
	if int(i)+1 < len(s.tickets) && s.tickets[i+1].problem == i {
		return true
	}
	return s.extraIncidents[i]
}

func appendEnum(b []byte, v string) []byte {
	if v == "" {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

func (s *Server) appendUser(b []byte, u int32) []byte {
	us := &s.users[u]
	id := s.userID(u)
	b = append(b, `{"id":`...)
	b = appendInt(b, id)
	b = append(b, `,"url":"`...)
	b = append(b, s.baseURL...)
	b = append(b, "/api/v2/users/"...)
	b = appendInt(b, id)
	b = append(b, `.json","name":`...)
	b = appendJSONString(b, us.name)
	b = appendKey(b, true, "email")
	b = appendOptStr(b, us.email)
	b = appendKey(b, true, "created_at")
	b = appendTime(b, us.created)
	b = appendKey(b, true, "updated_at")
	b = appendTime(b, us.updated)
	b = append(b, `,"time_zone":"UTC","iana_time_zone":"Etc/UTC","phone":null,"shared_phone_number":null,"photo":null,"locale_id":1,"locale":"en-US","organization_id":null,"role":"`...)
	b = append(b, roleNames[us.role]...)
	b = append(b, `","verified":true,"external_id":`...)
	b = appendOptStr(b, us.externalID)
	b = append(b, `,"tags":[],"alias":null,"active":true,"shared":false,"shared_agent":false,"last_login_at":null,"two_factor_auth_enabled":false,"signature":null,"details":"","notes":"","role_type":null,"custom_role_id":null,"moderator":`...)
	b = strconv.AppendBool(b, us.role != roleEndUser)
	b = append(b, `,"ticket_restriction":`...)
	if us.role == roleEndUser {
		b = append(b, `"requested"`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"only_private_comments":false,"restricted_agent":false,"suspended":false,"default_group_id":null,"report_csv":false,"user_fields":{}}`...)
	return b
}

// commentView is one comment, generated or added, ready to render.
type commentView struct {
	id, auditID, ts int64
	author          int32
	public          bool
	via             uint8
	bodyJSON        []byte // pre-escaped
	htmlJSON        []byte
}

func (s *Server) comments(i int32) []commentView {
	t := &s.tickets[i]
	out := make([]commentView, 0, int(t.nGen)+extLen(t))
	for k := range int(t.nGen) {
		out = append(out, s.genCommentView(i, k))
	}
	if t.ext != nil {
		for _, c := range t.ext.comments {
			out = append(out, s.extCommentView(&c))
		}
	}
	return out
}

func extLen(t *ticket) int {
	if t.ext == nil {
		return 0
	}
	return len(t.ext.comments)
}

func (s *Server) genCommentView(i int32, k int) commentView {
	t := &s.tickets[i]
	bi, public, author := s.genComment(int(i), t, k)
	return commentView{
		id:       genCommentBase + int64(i)*commentIDStride + int64(k),
		auditID:  genAuditBase + int64(i)*commentIDStride + int64(k),
		ts:       s.auditTS(int(i), t, k),
		author:   author,
		public:   public,
		via:      t.via,
		bodyJSON: s.bodyJSON[bi],
		htmlJSON: s.htmlJSON[bi],
	}
}

func (s *Server) extCommentView(c *extComment) commentView {
	return commentView{
		id: c.id, auditID: c.auditID, ts: c.ts, author: c.author, public: c.public, via: c.via,
		bodyJSON: appendJSONString(nil, c.body), htmlJSON: appendJSONString(nil, c.html),
	}
}

// appendComment renders a comment; kind selects the flavour: "list" for
// tickets/{id}/comments, "event" for ticket_events child events, "audit"
// for audit.events in write responses.
func (s *Server) appendComment(b []byte, c commentView, kind string) []byte {
	b = append(b, `{"id":`...)
	b = appendInt(b, c.id)
	b = append(b, `,"type":"Comment"`...)
	if kind == "event" {
		b = append(b, `,"event_type":"Comment"`...)
	}
	b = appendKey(b, true, "author_id")
	b = appendInt(b, s.userID(c.author))
	b = appendKey(b, true, "body")
	b = append(b, c.bodyJSON...)
	b = appendKey(b, true, "html_body")
	b = append(b, c.htmlJSON...)
	b = appendKey(b, true, "plain_body")
	b = append(b, c.bodyJSON...)
	b = appendKey(b, true, "public")
	b = strconv.AppendBool(b, c.public)
	b = append(b, `,"attachments":[],"audit_id":`...)
	b = appendInt(b, c.auditID)
	b = append(b, `,"via":{"channel":"`...)
	b = append(b, viaChannels[c.via]...)
	b = append(b, `","source":{"from":{},"to":{},"rel":null}}`...)
	if kind != "audit" {
		b = appendKey(b, true, "created_at")
		b = appendTime(b, c.ts)
	}
	if kind == "list" {
		b = append(b, `,"metadata":{"system":{"client":"zendesksim","ip_address":"127.0.0.1","location":null,"latitude":null,"longitude":null},"custom":{}}`...)
	}
	return append(b, '}')
}
