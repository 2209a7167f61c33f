package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"lienthong/gateway/axis/axishub"
)

// While the dev axis is down, doctor exits 1 naming it and /readyz stays
// ready, saying unreachable; once the axis is back, doctor exits 0.
func TestDoctorNamesTheAxisDown(t *testing.T) {
	s := devStack(t)
	api := apiArgs(t, s)
	doctor := func() (int, string) {
		code, out, errOut := lienthong(t, "", append([]string{"doctor"}, api...)...)
		return code, out + errOut
	}
	// Within a minute of real time, as the dev gateway polls every second.
	await := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within a minute", what)
			}
		}
	}
	await("healthy doctor", func() bool { code, _ := doctor(); return code == 0 })
	s.Hub.SetFaults(axishub.Faults{OutageUntil: time.Now().Add(time.Hour)})
	var out string
	await("doctor naming the axis", func() bool {
		var code int
		code, out = doctor()
		return code == 1 && strings.Contains(out, "the axis is unreachable since")
	})
	if !strings.Contains(out, "axis  unreachable since") {
		t.Errorf("doctor's axis line:\n%s", out)
	}
	h, err := s.Client.Ready(context.Background())
	if err != nil || !h.Ready || !strings.HasPrefix(h.Checks["axis"], "unreachable since ") {
		t.Errorf("readyz during the outage: %+v, %v; want ready, the axis unreachable", h, err)
	}
	s.Hub.SetFaults(axishub.Faults{})
	await("doctor healthy again", func() bool { code, _ := doctor(); return code == 0 })
}
