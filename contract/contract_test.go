package contract

import (
	"encoding/json"
	"testing"
)

// Runs scheduled before the activities took a struct sent the bare id: both shapes must decode.
func TestIntegrationRefDecodesBareIDOfOldRunsAndStruct(t *testing.T) {
	for _, in := range []string{`5`, ` 5`, `{"IntegrationID":5}`} {
		var r IntegrationRef
		if err := json.Unmarshal([]byte(in), &r); err != nil || r.IntegrationID != 5 {
			t.Fatalf("decode %s: got %+v, %v", in, r, err)
		}
	}
	var r IntegrationRef
	if err := json.Unmarshal([]byte(`5.5`), &r); err == nil {
		t.Fatalf("a fractional id decoded: %+v", r)
	}
	b, err := json.Marshal(IntegrationRef{IntegrationID: 7})
	if err != nil || string(b) != `{"IntegrationID":7}` {
		t.Fatalf("encode: %s, %v", b, err)
	}
}

func TestCaseRefDecodesBareIDOfOldRunsAndStruct(t *testing.T) {
	for _, in := range []string{`9`, `{"CaseID":9}`} {
		var r CaseRef
		if err := json.Unmarshal([]byte(in), &r); err != nil || r.CaseID != 9 {
			t.Fatalf("decode %s: got %+v, %v", in, r, err)
		}
	}
}

// The apply activities' result keeps the JSON recorded in histories and in applied_pages.
func TestPageCountersKeepTheirRecordedJSON(t *testing.T) {
	var p PageCounters
	if err := json.Unmarshal([]byte(`{"tickets":3,"cases_created":2,"cases_updated":1,"comments":4,"failures":1}`), &p); err != nil {
		t.Fatal(err)
	}
	want := Counters{Pages: 1, TicketsSynced: 3, CasesCreated: 2, CasesUpdated: 1, CommentsSynced: 4, Failures: 1}
	if got := p.Counters(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
