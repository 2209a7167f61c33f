package devstack_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"lienthong/gateway/devstack"
)

// The dashboard and the alert rules in deploy/ are read by operators'
// Prometheus and Grafana, not by our code: these tests keep them in step
// with the metrics the gateway really exports.

const (
	dashboardFile = "../../deploy/grafana/lienthong.json"
	alertsFile    = "../../deploy/prometheus/alerts.yml"
	alertTests    = "../../deploy/prometheus/alerts_test.yml"
)

var metricName = regexp.MustCompile(`\b(lienthong|process|go)_[a-z_]+\b`)

// exported runs a document round trip, so that every labelled series
// exists, and returns the names a scrape shows (histograms with their
// _bucket, _sum and _count) and the metric families.
func exported(t *testing.T) (names, families map[string]bool) {
	reg := prometheus.NewRegistry()
	s, clock := start(t, devstack.Options{Registerer: reg})
	acc, err := s.Client.Submit(context.Background(), memo("V/v số liệu vận hành", 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, clock, 200*time.Millisecond, "status 03 from the simulated peer", func() bool {
		return recipientStatus(t, s.Client, acc.ID) == "03"
	})
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names, families = map[string]bool{}, map[string]bool{}
	for _, f := range gathered {
		n := f.GetName()
		names[n], families[n] = true, true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		}
	}
	return names, families
}

type dashboard struct {
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	names, families := exported(t)
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	ids := map[int]bool{}
	var graphs int
	var exprs []string
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		graphs++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	if graphs < 8 {
		t.Errorf("dashboard has %d panels, want at least 8", graphs)
	}
	shown := strings.Join(exprs, "\n")
	for _, n := range metricName.FindAllString(shown, -1) {
		if !names[n] {
			t.Errorf("dashboard queries %s, which the gateway does not export", n)
		}
	}
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range metricName.FindAllString(string(rules), -1) {
		if !names[n] {
			t.Errorf("alert rules read %s, which the gateway does not export", n)
		}
	}
	// Every gateway metric is on the dashboard or alerted on.
	for n := range families {
		if strings.HasPrefix(n, "lienthong_") && n != "lienthong_build_info" &&
			!strings.Contains(shown, n) && !strings.Contains(string(rules), n) {
			t.Errorf("%s is exported but neither on the dashboard nor in an alert", n)
		}
	}
	checkWithPromtool(t, exprs)
}

// checkWithPromtool parses every dashboard query as Prometheus would, and
// runs the alert rules' own unit tests.
func checkWithPromtool(t *testing.T, exprs []string) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found; .ci/run must install Debian's prometheus")
		}
		t.Skip("promtool not found; install Debian's prometheus to parse the dashboard's queries")
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	grafana := strings.NewReplacer(`"$instance"`, `".*"`, "$__rate_interval", "5m")
	for i, e := range exprs {
		q, _ := json.Marshal(grafana.Replace(e))
		b.WriteString("      - record: dashboard:query" + string(rune('a'+i%26)) + "\n        expr: " + string(q) + "\n")
	}
	file := filepath.Join(t.TempDir(), "dashboard.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "rules", file},
		{"check", "rules", alertsFile},
		{"test", "rules", alertTests},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if !slices.ContainsFunc(exprs, func(e string) bool { return strings.Contains(e, "histogram_quantile") }) {
		t.Error("dashboard shows no latency quantile")
	}
}
