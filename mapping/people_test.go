package mapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"§10.2 lower-cased", "Agent.One@Example.com", "agent.one@example.com"},
		{"§10.2 trimmed", "  bob@example.com\t\n", "bob@example.com"},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"no @", "bob.example.com", ""},
		{"no local part", "@example.com", ""},
		{"no domain", "bob@", ""},
		{"inner space", "bob smith@example.com", ""},
		{"display-name form is not an address", "Bob <bob@example.com>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, NormalizeEmail(tc.in))
		})
	}
}

func TestDirectoryMatch(t *testing.T) {
	dir := NewDirectory([]CRMUser{
		{ID: 1, Email: "agent.one@example.com"},
		{ID: 2, Email: "bob.miller@example.com", Secondary: []string{"Bob@Old.Example.com", "shared@example.com"}},
		{ID: 3, Email: "shared@example.com"},
		{ID: 4, Email: "AGENT.ONE@example.com"}, // duplicate primary: the first user keeps it
		{ID: 0, Email: "ghost@example.com"},
		{ID: 5, Email: "", Secondary: []string{"", "not-an-email"}},
		{ID: 6, Email: "carol@example.com", Secondary: []string{"dup2@example.com"}},
		{ID: 7, Email: "dave@example.com", Secondary: []string{"DUP2@example.com"}},
	})
	tests := []struct {
		name, email string
		wantID      int64
		wantOK      bool
	}{
		{"§8 agent matched by primary email", "bob.miller@example.com", 2, true},
		{"§10.2 primary ignoring case", "Agent.One@Example.com", 1, true},
		{"§10.2 primary ignoring surrounding whitespace", "  agent.one@example.com ", 1, true},
		{"§4.3 secondary email", "bob@old.example.com", 2, true},
		{"§10.2 secondary ignoring case", "BOB@OLD.EXAMPLE.COM", 2, true},
		{"§4.3 primary wins over another user's secondary", "shared@example.com", 3, true},
		{"duplicate primary: first user wins", "agent.one@example.com", 1, true},
		{"duplicate secondary: first user wins", "dup2@example.com", 6, true},
		{"user id 0 is ignored", "ghost@example.com", 0, false},
		{"unknown email", "nobody@example.com", 0, false},
		{"empty email never matches", "", 0, false},
		{"invalid email never matches", "not-an-email", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := dir.Match(tc.email)
			assert.Equal(t, tc.wantID, id)
			assert.Equal(t, tc.wantOK, ok)
		})
	}

	t.Run("nil directory matches nothing", func(t *testing.T) {
		var d *Directory
		id, ok := d.Match("agent.one@example.com")
		assert.Zero(t, id)
		assert.False(t, ok)
	})
}

func TestIsAgent(t *testing.T) {
	tests := []struct {
		role string
		want bool
	}{
		{"admin", true}, {"agent", true}, {"end-user", false}, {"", false}, {"Agent", false}, {"light-agent", false},
	}
	for _, tc := range tests {
		t.Run("§2.8 role "+tc.role, func(t *testing.T) {
			assert.Equal(t, tc.want, IsAgent(tc.role))
		})
	}
}

func TestResolveParty(t *testing.T) {
	dir := NewDirectory([]CRMUser{{ID: 10, Email: "agent.one@example.com"}})
	tests := []struct {
		name      string
		role      string
		email     string
		contactID int64
		dir       *Directory
		want      Party
	}{
		{"§2.8 agent matched, case-insensitive (§10.2)", "agent", "Agent.One@Example.com", 0, dir,
			Party{ZendeskID: 1, Role: "agent", Email: "Agent.One@Example.com", CRMUserID: 10}},
		{"§2.8 admin matched", "admin", "agent.one@example.com", 0, dir,
			Party{ZendeskID: 1, Role: "admin", Email: "agent.one@example.com", CRMUserID: 10}},
		{"§10.2 unmatched agent stays 0 (fallback never stored)", "agent", "new.agent@example.com", 0, dir,
			Party{ZendeskID: 1, Role: "agent", Email: "new.agent@example.com"}},
		{"§4.3 agent drops a contact link", "agent", "agent.one@example.com", 55, dir,
			Party{ZendeskID: 1, Role: "agent", Email: "agent.one@example.com", CRMUserID: 10}},
		{"§4.3 end-user keeps the caller's contact", "end-user", "agent.one@example.com", 55, dir,
			Party{ZendeskID: 1, Role: "end-user", Email: "agent.one@example.com", ContactID: 55}},
		{"§4.3 end-user without contact", "end-user", "jim@example.com", 0, dir,
			Party{ZendeskID: 1, Role: "end-user", Email: "jim@example.com"}},
		{"§8 no role → no link", "", "agent.one@example.com", 55, dir,
			Party{ZendeskID: 1, Email: "agent.one@example.com"}},
		{"§2.3 unknown role → no link", "owner", "agent.one@example.com", 55, dir,
			Party{ZendeskID: 1, Role: "owner", Email: "agent.one@example.com"}},
		{"agent with nil directory", "agent", "agent.one@example.com", 0, nil,
			Party{ZendeskID: 1, Role: "agent", Email: "agent.one@example.com"}},
		{"email is trimmed", "end-user", " jim@example.com ", 5, dir,
			Party{ZendeskID: 1, Role: "end-user", Email: "jim@example.com", ContactID: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ResolveParty(1, tc.role, tc.email, tc.contactID, tc.dir))
		})
	}
}

func TestContactFor(t *testing.T) {
	tests := []struct {
		name, fullName, email, phone string
		want                         NewContact
		ok                           bool
	}{
		{"§8 Mr. Bob Miller Jr. with phone", "Mr. Bob Miller Jr.", "bob@example.com", "+1 555 0100",
			NewContact{Email: "bob@example.com", Name: Name{Prefix: "Mr.", First: "Bob", Last: "Miller", Suffix: "Jr."}, Phone: "+1 555 0100"}, true},
		{"§4.3 no phone", "Jim Smith", "Jim.Smith@Example.com", "",
			NewContact{Email: "Jim.Smith@Example.com", Name: Name{First: "Jim", Last: "Smith"}}, true},
		{"§4.3 no email → no contact", "Jim Smith", "", "123", NewContact{}, false},
		{"§4.3 invalid email → no contact", "Jim Smith", "jim", "", NewContact{}, false},
		{"§4.3 quirk: blank name → no contact", "  \t ", "jim@example.com", "", NewContact{}, false},
		{"§4.3 quirk: empty name → no contact", "", "jim@example.com", "", NewContact{}, false},
		{"§4.4 ␣␣Alex␣␣␣", "  Alex   ", " alex@example.com ", " 42 ",
			NewContact{Email: "alex@example.com", Name: Name{First: "Alex", Last: "Alex"}, Phone: "42"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ContactFor(tc.fullName, tc.email, tc.phone)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCommentOwner(t *testing.T) {
	const owner = 99
	tests := []struct {
		name        string
		author      *Party
		wantOwner   int64
		wantContact int64
	}{
		{"§8 agent with CRM user → that user", &Party{Role: "agent", CRMUserID: 7}, 7, 0},
		{"§4.7 unmatched agent → integration owner", &Party{Role: "agent"}, owner, 0},
		{"§8 end-user with contact → contact, owner fallback", &Party{Role: "end-user", ContactID: 5}, owner, 5},
		{"§4.7 end-user without contact → owner only", &Party{Role: "end-user"}, owner, 0},
		{"§4.7 no author → integration owner", nil, owner, 0},
		{"§4.7 role-less author → integration owner", &Party{}, owner, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, c := CommentOwner(tc.author, owner)
			assert.Equal(t, tc.wantOwner, o)
			assert.Equal(t, tc.wantContact, c)
		})
	}
}
