package devstack_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lienthong/conf"
	"lienthong/gateway/axis"
	"lienthong/gateway/axis/axishub"
	"lienthong/gateway/devstack"
	"lienthong/gateway/localapi"
)

// provincial is a second axis speaking the REST dialect, served on a port
// that survives a stop, so the hub can be stopped and started again.
type provincial struct {
	hub  *axishub.Hub
	addr string
	srv  *http.Server
}

func (p *provincial) serve(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.srv = &http.Server{Handler: p.hub}
	go p.srv.Serve(ln)
}

func (p *provincial) stop() { p.srv.Close() }

// Systems on the provincial axis: the axis's own, our unit's own, and the
// peer's there.
const (
	provAxisSystem = "00.59.W00"
	provUnitSystem = "00.60.W00"
	provPeerSystem = "00.61.W00"
	thirdCode      = "000.00.00.H26" // a third agency of ours, on the national axis
)

// TestTwoAxes: three agencies on one gateway, two on the national axis
// (the SDK wire) with its credentials and one on a provincial axis (the
// REST dialect) with credentials of its own. Each agency's document goes
// out on its axis with its credentials; packages come in from both; the
// status answering a package goes back on the axis it came on; and either
// axis down leaves the other working.
func TestTwoAxes(t *testing.T) {
	ctx := context.Background()
	prov := &provincial{addr: "127.0.0.1:0"}
	var err error
	// The hub starts before the stack's fake clock exists, then keeps it.
	var clockNow atomic.Pointer[func() time.Time]
	prov.hub, err = axishub.Open(axishub.Options{
		Dir: t.TempDir(), Dialect: axis.DialectREST, Accounts: map[string]string{"quantri": "mật khẩu tỉnh"},
		Now: func() time.Time {
			if now := clockNow.Load(); now != nil {
				return (*now)()
			}
			return time.Now()
		},
		Systems: []axishub.System{
			{SystemID: provAxisSystem, Secret: "bí mật trục", Codes: []string{}},
			{SystemID: provUnitSystem, Secret: "bí mật phòng", Codes: []string{devstack.UnitCode}},
			{SystemID: provPeerSystem, Secret: "bí mật VPCP", Codes: []string{devstack.PeerCode}},
		},
		Agencies: devstack.Agencies,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.hub.Close() })
	prov.serve(t)
	t.Cleanup(prov.stop)
	provURL := "http://" + prov.addr

	secrets := t.TempDir()
	file := func(name, v string) conf.Secret {
		p := filepath.Join(secrets, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return conf.Secret("file:" + p)
	}
	axisSecret, unitSecret, password := file("axis", "bí mật trục"), file("unit", "bí mật phòng"), file("password", "mật khẩu tỉnh")
	s, clock := start(t, devstack.Options{ManualPeer: true, Configure: func(peer bool, c *conf.Config) {
		if peer {
			return
		}
		c.Axes = []conf.Axis{{Name: "langson", Dialect: "rest-v2", Endpoint: provURL, SystemID: provAxisSystem, Secret: axisSecret,
			TokenUser: "quantri", TokenPassword: password}}
		c.Agencies = []conf.Agency{
			{Code: devstack.UnitCode, Name: devstack.UnitName, Axis: "langson", AxisSystemID: provUnitSystem, AxisSecret: unitSecret},
			{Code: thirdCode, Name: "Ủy ban nhân dân thành phố Hà Nội (dev)"},
		}
		c.Signing.Shared = true // the third agency signs with the department's key
	}})
	now := clock.Now
	clockNow.Store(&now)
	// On the national axis our system now holds the department and the
	// third agency; the unit is on the provincial axis alone.
	secretA, err := os.ReadFile(filepath.Join(s.Dir, "secrets", "axis-a"))
	if err != nil {
		t.Fatal(err)
	}
	s.Hub.AddSystem(axishub.System{SystemID: s.Config.Axis.SystemID, Secret: strings.TrimSpace(string(secretA)), Codes: []string{devstack.AgencyCode, thirdCode}})
	peerProv, err := axis.NewREST(axis.Config{Endpoint: provURL, SystemID: provPeerSystem, Secret: []byte("bí mật VPCP"),
		Token: axis.Token{User: "quantri", Password: "mật khẩu tỉnh"}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer peerProv.Close()

	national := func(from string) int {
		pkgs, err := s.Hub.Packages()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range pkgs {
			if p.From == from && p.MessageType == axis.MessageEdoc {
				n++
			}
		}
		return n
	}
	provincialList := func(mt string) []axis.ReceivedItem {
		items, err := peerProv.GetReceivedEdocList(ctx, mt)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	number := 800
	submit := func(from, subject string) *localapi.Accepted {
		t.Helper()
		m := memo(subject, 0)
		number++
		m["from"], m["codeNumber"] = map[string]string{"organId": from}, strconv.Itoa(number)
		acc, err := s.Client.Submit(ctx, m, nil)
		if err != nil {
			t.Fatalf("submit from %s: %v", from, err)
		}
		return acc
	}

	// Out: each agency on its axis, with its credentials.
	submit(devstack.AgencyCode, "V/v từ sở, trục quốc gia")
	submit(thirdCode, "V/v từ thành phố, trục quốc gia")
	unitDoc := submit(devstack.UnitCode, "V/v từ phòng, trục tỉnh")
	eventually(t, clock, 500*time.Millisecond, "each agency's document on its axis", func() bool {
		return national(devstack.AgencyCode) == 1 && national(thirdCode) == 1 && len(provincialList(axis.MessageEdoc)) == 1
	})
	if n := national(devstack.UnitCode); n != 0 {
		t.Fatalf("the unit's document reached the national axis %d times; it is on the provincial one", n)
	}
	got := provincialList(axis.MessageEdoc)[0]
	if got.From != devstack.UnitCode {
		t.Fatalf("on the provincial axis: %+v, want it from %s", got, devstack.UnitCode)
	}
	var pkg bytes.Buffer
	if _, err := peerProv.GetEdocTo(ctx, got.DocID, &pkg); err != nil || !strings.Contains(pkg.String(), unitDoc.DocumentID[:strings.IndexByte(unitDoc.DocumentID, ',')]) {
		t.Fatalf("the unit's package: %v, %d bytes", err, pkg.Len())
	}
	if err := peerProv.UpdateStatus(ctx, got.DocID, axis.StatusDone); err != nil {
		t.Fatal(err)
	}

	// In: a package from the peer reaches the department on the national
	// axis, and the unit on the provincial one (relayed there as a
	// provincial axis takes what the national one holds for its units).
	toBoth := memo("V/v gửi sở và phòng", 0)
	toBoth["to"], toBoth["codeNumber"] = []string{devstack.AgencyCode, devstack.UnitCode}, "701"
	if _, err := s.PeerClient.Submit(ctx, toBoth, nil); err != nil {
		t.Fatal(err)
	}
	s.Hub.AddSystem(axishub.System{SystemID: "relay", Secret: "relay", Codes: []string{devstack.UnitCode}})
	relay, err := axis.New(axis.Config{Endpoint: s.HubURL, SystemID: "relay", Secret: []byte("relay")})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	var held []axis.ReceivedItem
	eventually(t, clock, 500*time.Millisecond, "the peer's package on the national axis", func() bool {
		held, _ = relay.GetReceivedEdocList(ctx, axis.MessageEdoc)
		return len(held) == 1
	})
	body, err := relay.GetEdoc(ctx, held[0].DocID)
	if err != nil {
		t.Fatal(err)
	}
	peerSend := func(b []byte) string {
		id, err := peerProv.SendEdoc(ctx, axis.SendRequest{Upload: axis.BytesUpload("relayed.edxml", b)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	peerSend(body)
	var items []localapi.InboxItem
	eventually(t, clock, 500*time.Millisecond, "the package delivered from both axes", func() bool {
		items = newInbox(t, s.Client, localapi.InboxNew)
		return len(items) == 2
	})
	tos := []string{cmp.Or(items[0].Agency, devstack.AgencyCode), cmp.Or(items[1].Agency, devstack.AgencyCode)}
	slices.Sort(tos)
	if want := []string{devstack.AgencyCode, devstack.UnitCode}; !slices.Equal(tos, want) {
		t.Fatalf("inbox items to %v, want %v", tos, want)
	}
	// The unit's 01 (arrived) goes back on the provincial axis, to the peer.
	eventually(t, clock, 500*time.Millisecond, "the unit's 01 on the provincial axis", func() bool {
		return len(provincialList(axis.MessageStatus)) == 1
	})
	if st := provincialList(axis.MessageStatus)[0]; st.From != devstack.UnitCode {
		t.Fatalf("status on the provincial axis from %s, want the unit", st.From)
	}

	// The same package sent again on the provincial axis is fetched,
	// acknowledged, and not delivered twice.
	again := peerSend(body)
	eventually(t, clock, 500*time.Millisecond, "the second copy acknowledged", func() bool {
		pkgs, _ := prov.hub.Packages()
		i := slices.IndexFunc(pkgs, func(p axishub.Package) bool { return p.DocID == again })
		return i >= 0 && pkgs[i].Acks[devstack.UnitCode] == 1
	})
	if n := len(newInbox(t, s.Client, localapi.InboxNew)); n != 2 {
		t.Fatalf("%d inbox items after the same package came again, want 2", n)
	}

	// Either axis down leaves the other working.
	prov.stop()
	submit(devstack.AgencyCode, "V/v khi trục tỉnh dừng")
	eventually(t, clock, 500*time.Millisecond, "a national document while the provincial axis is down", func() bool {
		return national(devstack.AgencyCode) == 2
	})
	// The summary names the axis down, and only it.
	eventually(t, clock, 500*time.Millisecond, "the summary naming the provincial axis", func() bool {
		sum, err := s.Client.Summary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		states := map[string]string{}
		for _, a := range sum.Axes {
			states[a.Name] = a.State
		}
		return states["langson"] == "unreachable" && states["national"] == "ok" && sum.Axis.State == "unreachable" &&
			slices.ContainsFunc(sum.Problems, func(p string) bool { return strings.HasPrefix(p, "axis langson is unreachable") })
	})
	prov.serve(t)
	s.Hub.SetFaults(axishub.Faults{OutageUntil: clock.Now().Add(24 * time.Hour)})
	submit(devstack.UnitCode, "V/v khi trục quốc gia dừng")
	eventually(t, clock, 500*time.Millisecond, "a provincial document while the national axis is down", func() bool {
		return len(provincialList(axis.MessageEdoc)) == 1 // the first was answered done
	})
	s.Hub.SetFaults(axishub.Faults{})
	if _, err := peerProv.GetSentEdocList(ctx, axis.MessageEdoc, ""); !errors.Is(err, axis.ErrNoSentList) {
		t.Fatalf("sent list on the REST dialect: %v", err)
	}

	// The unit's secret is rotated without a restart: reloaded, then
	// changed on the axis; its next document goes with the new one.
	file("unit", "bí mật mới của phòng")
	if later, err := s.Agency.Reload(s.Config); err != nil || len(later) != 0 {
		t.Fatalf("reload with a rotated axis secret: %v, waiting for a restart: %v", err, later)
	}
	prov.hub.AddSystem(axishub.System{SystemID: provUnitSystem, Secret: "bí mật mới của phòng", Codes: []string{devstack.UnitCode}})
	before := len(provincialList(axis.MessageEdoc))
	submit(devstack.UnitCode, "V/v sau khi đổi bí mật")
	eventually(t, clock, 500*time.Millisecond, "the unit's document under its new secret", func() bool {
		return len(provincialList(axis.MessageEdoc)) == before+1
	})
	// New breaker settings wait for a restart, and say so.
	slower := s.Config
	slower.Axes = slices.Clone(slower.Axes)
	slower.Axes[0].BreakerCooldown = conf.Duration(time.Minute)
	if later, err := s.Agency.Reload(slower); err != nil || !slices.Contains(later, "axes") {
		t.Fatalf("reload with another breaker cooldown: %v, waiting for a restart: %v; want axes named", err, later)
	}
	// Another set of links waits for a restart, and says so.
	moved := s.Config
	moved.Agencies = slices.Clone(moved.Agencies)
	moved.Agencies[0].AxisSystemID, moved.Agencies[0].AxisSecret = "", ""
	if later, err := s.Agency.Reload(moved); err != nil || !slices.Contains(later, "axes") {
		t.Fatalf("reload with the unit's own credentials gone: %v, waiting for a restart: %v; want axes named", err, later)
	}
}
