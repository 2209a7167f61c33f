package gateway

import (
	"errors"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"lienthong/gateway/axis"
	"lienthong/queue"
)

// Version is the build's version, set by the linker for packages.
var Version = "dev"

type metrics struct {
	messages      *prometheus.CounterVec   // direction, result
	retries       *prometheus.CounterVec   // direction
	axisDuration  *prometheus.HistogramVec // operation, outcome
	signDuration  prometheus.Histogram
	verifyDur     prometheus.Histogram
	statuses      *prometheus.CounterVec // direction, code
	deadlineMiss  prometheus.Counter
	certExpiry    prometheus.Gauge
	dirAgencies   prometheus.Gauge
	dirSynced     prometheus.Gauge
	dirHeld       prometheus.Gauge
	breakerState  prometheus.Collector
	relisted      *prometheus.CounterVec // axis
	axisLastOK    prometheus.Gauge
	webhookFailed prometheus.Counter
	apiRequests   *prometheus.CounterVec // route, code
	refused       *prometheus.CounterVec // reason
	evEntries     prometheus.Counter
	evCheckpoint  prometheus.Gauge
	evUnsigned    prometheus.Gauge
	tsaFailed     prometheus.Counter
	toStatus      *prometheus.HistogramVec // code: 01 or 03
}

// newMetrics registers the engine's metrics; the breaker's state and the
// store's figures are read at scrape time.
func newMetrics(reg prometheus.Registerer, links func() *links, clock Clock, stats func() []queue.GroupStats) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_messages_total", Help: "Packages by direction and what became of them.",
		}, []string{"direction", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_retries_total", Help: "Attempts that failed and were scheduled again.",
		}, []string{"direction"}),
		axisDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lienthong_axis_request_duration_seconds", Help: "Axis calls by operation and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"axis", "operation", "outcome"}),
		relisted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_axis_relisted_total", Help: "Packages an axis listed again though already stored: acknowledged again, never delivered twice.",
		}, []string{"axis"}),
		signDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "lienthong_sign_duration_seconds", Help: "Time to build and sign one package.",
			Buckets: prometheus.ExponentialBuckets(.0005, 2, 14),
		}),
		verifyDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "lienthong_verify_duration_seconds", Help: "Time to verify one inbound package.",
			Buckets: prometheus.ExponentialBuckets(.0002, 2, 16),
		}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_status_packages_total", Help: "Status packages by direction and status code.",
		}, []string{"direction", "code"}),
		deadlineMiss: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lienthong_dispatch_deadline_misses_total",
			Help: "Documents the axis accepted after the legal dispatch deadline (noon of the next working day after promulgation).",
		}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lienthong_signing_certificate_expiry_timestamp_seconds", Help: "When the signing certificate expires.",
		}),
		dirAgencies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lienthong_directory_agencies", Help: "Agencies in the synced directory.",
		}),
		dirSynced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lienthong_directory_last_sync_timestamp_seconds", Help: "When the directory last synced from the axis.",
		}),
		dirHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lienthong_directory_held", Help: "Directory changes held for an operator: the deletion or re-parenting of an agency we exchange with.",
		}),
		axisLastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lienthong_axis_last_success_timestamp_seconds", Help: "When an axis call last succeeded.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_inbound_refused_total",
			Help: "Inbound packages quarantined, by reason: signature, binding (signer not bound to From), axis_sender (uploaded by another agency), forged_status, content.",
		}, []string{"reason"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_api_requests_total", Help: "Local API requests by route and HTTP status code.",
		}, []string{"route", "code"}),
		webhookFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lienthong_webhook_failures_total", Help: "Webhook deliveries the legacy system did not take.",
		}),
		evEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lienthong_evidence_entries_total", Help: "Evidence log entries this node sealed.",
		}),
		evCheckpoint: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lienthong_evidence_checkpoint_timestamp_seconds", Help: "When the latest evidence checkpoint was signed.",
		}),
		evUnsigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lienthong_evidence_unsigned_entries", Help: "Evidence entries no signed checkpoint covers yet, pending ones included.",
		}),
		toStatus: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lienthong_time_to_status_seconds",
			Help:    "From the axis taking our document to the recipient's 01 (arrived) or 03 (registered), as the recipient dated it.",
			Buckets: []float64{60, 300, 900, 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400},
		}, []string{"code"}),
		tsaFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lienthong_evidence_tsa_failures_total", Help: "Checkpoints the time-stamping authority did not stamp when asked.",
		}),
	}
	m.breakerState = &breakerCollector{links: links, clock: clock}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lienthong_build_info", Help: "The running build.",
		ConstLabels: prometheus.Labels{"version": Version, "goversion": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(m.messages, m.retries, m.axisDuration, m.signDuration, m.verifyDur, m.statuses,
		m.deadlineMiss, m.certExpiry, m.dirAgencies, m.dirSynced, m.dirHeld, m.breakerState, m.axisLastOK, m.relisted,
		m.webhookFailed, m.apiRequests, m.refused, m.evEntries, m.evCheckpoint, m.evUnsigned, m.tsaFailed, m.toStatus, build, &queueCollector{clock: clock, stats: stats},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"accepted", "sent", "dead", "refused"} {
		m.messages.WithLabelValues("out", r)
	}
	for _, c := range []string{"01", "03"} {
		m.toStatus.WithLabelValues(c)
	}
	for _, r := range []string{"fetched", "delivered", "quarantined", "duplicate", "status", "unfetchable"} {
		m.messages.WithLabelValues("in", r)
	}
	m.retries.WithLabelValues("out")
	for _, r := range refusals {
		m.refused.WithLabelValues(r)
	}
	return m
}

// observeAxis is the axis clients' Observe hook.
func (m *metrics) observeAxis(name, op string, took time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "terminal"
		switch axis.ClassOf(err) {
		case axis.Retryable:
			outcome = "retryable"
		case axis.Ambiguous:
			outcome = "ambiguous"
		}
		var e *axis.Error
		if errors.As(err, &e) && e.HTTPStatus == 0 && e.Code == "" && outcome == "retryable" {
			outcome = "unreachable"
		}
	} else {
		m.axisLastOK.SetToCurrentTime()
	}
	m.axisDuration.WithLabelValues(name, op, outcome).Observe(took.Seconds())
}

// queueCollector exports the store's Stats at scrape time.
type queueCollector struct {
	clock Clock
	stats func() []queue.GroupStats
}

var (
	queueDepthDesc = prometheus.NewDesc("lienthong_queue_depth",
		"Records by direction, state and priority (0 Thường … 3 Hỏa tốc, 4 Hỏa tốc hẹn giờ).",
		[]string{"direction", "state", "priority"}, nil)
	queueOldestDesc = prometheus.NewDesc("lienthong_queue_oldest_age_seconds",
		"Age of the oldest record by direction, state and priority.",
		[]string{"direction", "state", "priority"}, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueOldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.clock.Now()
	seen := map[[3]string]bool{}
	for _, s := range c.stats() {
		l := [3]string{string(s.Dir), string(s.State), strconv.Itoa(s.Priority)}
		seen[l] = true
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(s.Count), l[:]...)
		age := 0.0
		if s.Count > 0 && !s.Oldest.IsZero() {
			age = max(now.Sub(s.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, age, l[:]...)
	}
	// Series that alerts read exist even when empty.
	for _, d := range []queue.Direction{queue.Outbound, queue.Inbound} {
		for _, st := range []queue.State{queue.Ready, queue.Dead} {
			for p := 0; p <= queue.MaxPriority; p++ {
				l := [3]string{string(d), string(st), strconv.Itoa(p)}
				if !seen[l] {
					ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, 0, l[:]...)
					ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, 0, l[:]...)
				}
			}
		}
	}
}

// breakerCollector exports each axis's breaker state, the worst of its
// links when agencies hold credentials of their own on it.
type breakerCollector struct {
	links func() *links
	clock Clock
}

var breakerDesc = prometheus.NewDesc("lienthong_axis_breaker_state", "Circuit breaker towards each axis: 0 closed, 1 open, 2 half-open.", []string{"axis"}, nil)

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- breakerDesc }

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	ls := c.links()
	if ls == nil {
		return
	}
	now := c.clock.Now()
	for _, name := range ls.axes() {
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, float64(ls.breakerState(name, now)), name)
	}
}
