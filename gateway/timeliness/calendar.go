// Package timeliness measures how fast documents cross and are registered
// against the deadlines of QĐ 28/2018/QĐ-TTg, on Vietnam's working days.
package timeliness

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"lienthong/conf"
	"lienthong/envelope"
)

// Vietnam is the time zone deadlines are reckoned in.
var Vietnam = envelope.Vietnam

// FixedHolidays are the public holidays of the Labour Code (art. 112) that
// fall on the same solar date every year. Tết and the Hùng Kings'
// commemoration follow the lunar calendar, and the day next to 2 September
// and days moved to bridge a weekend are decided each year: those come
// from the configuration.
var FixedHolidays = []MonthDay{
	{time.January, 1}, {time.April, 30}, {time.May, 1}, {time.September, 2},
}

// MonthDay is a date that recurs every year.
type MonthDay struct {
	Month time.Month
	Day   int
}

// Calendar tells working days from weekends and holidays. The zero value
// counts only weekends.
type Calendar struct {
	fixed []MonthDay
	days  map[int]bool // yyyymmdd → a holiday (true) or a Saturday worked (false)
}

// NewCalendar is the calendar of Vietnam's fixed holidays and the given
// dates.
func NewCalendar(days map[int]bool) *Calendar {
	return &Calendar{fixed: FixedHolidays, days: days}
}

func ymd(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// Working reports whether the day of t, in Vietnam, is a working day.
func (c *Calendar) Working(t time.Time) bool {
	t = t.In(Vietnam)
	if c != nil {
		if h, ok := c.days[ymd(t)]; ok {
			return !h
		}
		for _, f := range c.fixed {
			if t.Month() == f.Month && t.Day() == f.Day {
				return false
			}
		}
	}
	return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
}

// day is the start of t's day in Vietnam.
func day(t time.Time) time.Time {
	y, m, d := t.In(Vietnam).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Vietnam)
}

// nextWorking is the first working day after the day of t.
func (c *Calendar) nextWorking(t time.Time) time.Time {
	d := day(t).AddDate(0, 0, 1)
	for i := 0; i < 60 && !c.Working(d); i++ {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// RegistrationDeadline is when a document received at t must be
// registered: by the end of the next working day after the day it came,
// a day off counting from the working day after it.
func (c *Calendar) RegistrationDeadline(t time.Time) time.Time {
	d := day(t)
	if !c.Working(d) {
		d = c.nextWorking(d)
	}
	return c.nextWorking(d).AddDate(0, 0, 1)
}

// DispatchDeadline is when a document signed on the day of signed must be
// on its way: by noon of the next working day.
func (c *Calendar) DispatchDeadline(signed time.Time) time.Time {
	return c.nextWorking(signed).Add(12 * time.Hour)
}

// ParseHolidays reads a holiday file: one date (YYYY-MM-DD) or range
// (YYYY-MM-DD..YYYY-MM-DD) per line, then an optional name; a line
// starting with "work" names a weekend day worked instead; "#" starts a
// comment. Errors name the line.
func ParseHolidays(r io.Reader, into map[int]bool) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		holiday := true
		if fields[0] == "work" {
			holiday = false
			fields = fields[1:]
			if len(fields) == 0 {
				return fmt.Errorf("line %d: \"work\" names no date", n)
			}
		}
		if err := AddDays(fields[0], holiday, into); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

// AddDays adds a date or a range of dates (YYYY-MM-DD..YYYY-MM-DD) as
// holidays, or as days worked.
func AddDays(s string, holiday bool, into map[int]bool) error {
	a, b, err := conf.DayRange(s)
	if err != nil {
		return err
	}
	for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
		into[ymd(d)] = holiday
	}
	return nil
}
