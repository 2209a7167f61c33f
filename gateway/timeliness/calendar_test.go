package timeliness

import (
	"strings"
	"testing"
	"time"
)

var vn = Vietnam

// A document must leave by noon of the next working day after it was
// signed; weekends, fixed holidays and configured days off are skipped,
// and a Saturday worked counts.
func TestDispatchDeadline(t *testing.T) {
	days := map[int]bool{}
	if err := ParseHolidays(strings.NewReader("# Tết Bính Ngọ\n2026-02-14..2026-02-22 Tết\nwork 2026-03-28\n"), days); err != nil {
		t.Fatal(err)
	}
	cal := NewCalendar(days)
	for _, tt := range []struct {
		name         string
		signed, want time.Time
	}{
		{"monday: tuesday noon", time.Date(2026, 3, 16, 0, 0, 0, 0, vn), time.Date(2026, 3, 17, 12, 0, 0, 0, vn)},
		{"friday: monday noon", time.Date(2026, 3, 20, 0, 0, 0, 0, vn), time.Date(2026, 3, 23, 12, 0, 0, 0, vn)},
		{"saturday: monday noon", time.Date(2026, 3, 21, 0, 0, 0, 0, vn), time.Date(2026, 3, 23, 12, 0, 0, 0, vn)},
		{"sunday: monday noon", time.Date(2026, 3, 22, 0, 0, 0, 0, vn), time.Date(2026, 3, 23, 12, 0, 0, 0, vn)},
		// 20:00 UTC on Thursday is already Friday in Hà Nội.
		{"late UTC is the next day in Vietnam", time.Date(2026, 3, 19, 20, 0, 0, 0, time.UTC), time.Date(2026, 3, 23, 12, 0, 0, 0, vn)},
		{"the day before Tết: after it", time.Date(2026, 2, 13, 9, 0, 0, 0, vn), time.Date(2026, 2, 23, 12, 0, 0, 0, vn)},
		{"29 April: 4 May, past 30/4, 1/5 and the weekend", time.Date(2026, 4, 29, 9, 0, 0, 0, vn), time.Date(2026, 5, 4, 12, 0, 0, 0, vn)},
		{"friday before a Saturday worked", time.Date(2026, 3, 27, 9, 0, 0, 0, vn), time.Date(2026, 3, 28, 12, 0, 0, 0, vn)},
	} {
		if got := cal.DispatchDeadline(tt.signed); !got.Equal(tt.want) {
			t.Errorf("%s: signed %v, due %v, want %v", tt.name, tt.signed, got, tt.want)
		}
	}
}

// A document received on a Friday is due by the end of Monday; one of a
// Tuesday, by the end of Wednesday; one of a day off counts from the next
// working day (Vietnam's time).
func TestRegistrationDeadline(t *testing.T) {
	cal := NewCalendar(map[int]bool{20260903: true})
	for _, tc := range []struct{ at, want time.Time }{
		{time.Date(2026, 3, 20, 16, 0, 0, 0, vn), time.Date(2026, 3, 24, 0, 0, 0, 0, vn)},
		{time.Date(2026, 3, 17, 9, 0, 0, 0, vn), time.Date(2026, 3, 19, 0, 0, 0, 0, vn)},
		{time.Date(2026, 3, 21, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 25, 0, 0, 0, 0, vn)}, // Sunday 06:00 there
		{time.Date(2026, 9, 1, 10, 0, 0, 0, vn), time.Date(2026, 9, 5, 0, 0, 0, 0, vn)},         // 2/9 fixed, 3/9 configured
		{time.Date(2026, 9, 2, 10, 0, 0, 0, vn), time.Date(2026, 9, 8, 0, 0, 0, 0, vn)},         // Fri 4/9 counts as the first day
	} {
		if got := cal.RegistrationDeadline(tc.at); !got.Equal(tc.want) {
			t.Errorf("received %v: due %v, want %v", tc.at, got, tc.want)
		}
	}
}

// A holiday file's mistakes name their line.
func TestParseHolidaysErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"2026-02-30\n", "line 1: \"2026-02-30\" is not a date"},
		{"# ok\n\n2026-02-20..2026-02-10 backwards\n", "line 3: range"},
		{"work\n", "line 1: \"work\" names no date"},
	} {
		err := ParseHolidays(strings.NewReader(tc.text), map[int]bool{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}
