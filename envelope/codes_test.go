package envelope

import "testing"

// The status lifecycle, in one table: what each code is, and what may
// follow what.
func TestStatusLifecycle(t *testing.T) {
	type props struct {
		rank                                int
		progress, answerable, answersRecall bool
	}
	want := map[StatusCode]props{
		"01": {1, true, false, false}, // the gateway's own on arrival
		"02": {0, false, true, false},
		"03": {3, true, true, false},
		"04": {4, true, true, false},
		"05": {5, true, true, false},
		"06": {6, true, true, false},
		"13": {0, false, false, false}, // the sender's
		"15": {0, false, true, true},
		"16": {0, false, true, true},
		"07": {0, false, false, false},
		"":   {0, false, false, false},
	}
	for c, w := range want {
		got := props{c.Rank(), c.Progress(), c.Answerable(), c.AnswersRecall()}
		if got != w {
			t.Errorf("%q: %+v, want %+v", c, got, w)
		}
	}
	if got := JoinCodes(AnswerCodes()); got != "02, 03, 04, 05, 06, 15, 16" {
		t.Errorf("AnswerCodes = %s", got)
	}
	if got := JoinCodes(StatusCodes()); got != "01, 02, 03, 04, 05, 06, 13, 15, 16" {
		t.Errorf("StatusCodes = %s", got)
	}
	advances := []struct {
		cur, next StatusCode
		want      bool
	}{
		{"", "01", true},
		{"sent", "03", true},
		{"01", "03", true},
		{"03", "01", false}, // a late 01 does not undo a registration
		{"05", "05", true},  // processing may repeat
		{"06", "04", false},
		{"03", "02", true}, // a refusal always counts
		{"02", "03", true},
		{"06", "15", true}, // recall answers always count
		{"16", "05", true},
	}
	for _, tt := range advances {
		if got := tt.next.Advances(tt.cur); got != tt.want {
			t.Errorf("%s.Advances(%q) = %v, want %v", tt.next, tt.cur, got, tt.want)
		}
	}
}
