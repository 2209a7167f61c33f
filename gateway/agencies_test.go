package gateway

import (
	"fmt"
	"testing"

	"lienthong/conf"
	"lienthong/envelope"
)

// cityConfig is a city's shared system: the city and n units under it on
// four levels, each configured by code.
func cityConfig(n int) conf.Config {
	c := conf.Default()
	c.Agency = conf.Agency{Code: "000.00.00.H26", Name: "UBND Hà Nội"}
	for i := 0; len(c.Agencies) < n-1; i++ {
		// 000.00.NN.H26, then 000.MM.NN.H26, then KKK.MM.NN.H26.
		code := fmt.Sprintf("%03d.%02d.%02d.H26", i/10000%1000, i/100%100, i%100)
		if code == c.Agency.Code {
			continue
		}
		c.Agencies = append(c.Agencies, conf.Agency{Code: code, Name: "Đơn vị " + code})
	}
	return c
}

func TestAgenciesServes(t *testing.T) {
	c := cityConfig(3000)
	c.Agencies = append(c.Agencies, conf.Agency{Code: "000.00.07.H29", Name: "Sở X", Units: true})
	a := newAgencies(c)
	for code, want := range map[string]bool{
		"000.00.00.H26": true, "000.00.05.H26": true, "000.05.07.H26": true,
		"000.00.07.H29": true, "000.03.07.H29": true, "001.03.07.H29": true, // units of a served subtree
		"000.00.08.H29": false, "000.00.00.G22": false, "not a code": false,
	} {
		if _, got := a.serves(code, nil); got != want {
			t.Errorf("serves(%s) = %v, want %v", code, got, want)
		}
	}
	ours := a.ours([]envelope.Organization{{OrganID: "000.00.00.G22"}, {OrganID: "000.00.05.H26"}, {OrganID: "000.00.05.H26"}, {OrganID: "000.01.07.H29"}}, nil)
	if len(ours) != 2 || ours[0].OrganID != "000.00.05.H26" || ours[1].OrganID != "000.01.07.H29" {
		t.Errorf("ours = %+v", ours)
	}
}

// BenchmarkAgencies: what one document costs to route by agency, with one
// agency served and with a city's 3,000, and what loading them costs.
func BenchmarkAgencies(b *testing.B) {
	for _, n := range []int{1, 3000} {
		c := cityConfig(n)
		a := newAgencies(c)
		to := []envelope.Organization{{OrganID: "000.00.00.G22"}, {OrganID: c.Agency.Code}}
		b.Run(fmt.Sprintf("route/agencies=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(a.ours(to, nil)) != 1 {
					b.Fatal("not routed")
				}
				if _, ok := a.serves(c.Agency.Code, nil); !ok {
					b.Fatal("not served")
				}
			}
		})
		b.Run(fmt.Sprintf("load/agencies=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				newAgencies(c)
			}
		})
	}
}
