package directory

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var (
	provinces = []string{"Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Nghệ An", "Thanh Hóa", "Quảng Nam", "Tây Ninh", "Lâm Đồng", "Đồng Tháp", "Hà Giang", "Bắc Ninh", "Thừa Thiên Huế", "Khánh Hòa", "Bình Dương", "Đắk Lắk", "Quảng Ninh", "An Giang", "Gia Lai"}
	depts     = []string{"Sở Tài chính", "Sở Nội vụ", "Sở Tư pháp", "Sở Xây dựng", "Sở Y tế", "Sở Giáo dục và Đào tạo", "Sở Tài nguyên và Môi trường", "Sở Kế hoạch và Đầu tư", "Sở Công Thương", "Sở Giao thông vận tải", "Văn phòng UBND", "Thanh tra tỉnh", "Sở Thông tin và Truyền thông", "Sở Nông nghiệp và Phát triển nông thôn", "Ban Quản lý dự án"}
	units     = []string{"Phòng Hành chính", "Phòng Kế toán", "Văn phòng", "Trung tâm Công nghệ thông tin", "Phòng Tổ chức cán bộ", "Chi cục Thuế", "Phòng Thanh tra", "Trường THPT Nguyễn Trãi", "Trạm Y tế", "UBND xã Tân Phú", "UBND phường Bến Thành", "Đội Quản lý thị trường"}
)

// generate makes n directory entries shaped like the national directory:
// provinces, their departments, and units below them.
func generate(n int) []Entry {
	r := rand.New(rand.NewPCG(111, 0))
	out := make([]Entry, 0, n)
	seen := map[string]bool{}
	add := func(code, name, parent string) {
		if !seen[code] && len(out) < n {
			seen[code] = true
			out = append(out, Entry{ID: fmt.Sprint(len(out) + 1), Code: code, Name: name, Parent: parent, Version: int64(len(out) + 1)})
		}
	}
	for len(out) < n {
		p := r.IntN(63) + 1
		prov := provinces[p%len(provinces)]
		root := fmt.Sprintf("000.00.00.H%02d", p)
		add(root, "UBND tỉnh "+prov, "")
		l2 := r.IntN(99) + 1
		dept := fmt.Sprintf("000.00.%02d.H%02d", l2, p)
		add(dept, depts[l2%len(depts)]+" "+prov, root)
		l3 := r.IntN(99) + 1
		unit := fmt.Sprintf("000.%02d.%02d.H%02d", l3, l2, p)
		add(unit, units[l3%len(units)]+" "+depts[l2%len(depts)]+" "+prov, dept)
		l4 := r.IntN(999) + 1
		add(fmt.Sprintf("%03d.%02d.%02d.H%02d", l4, l3, l2, p), fmt.Sprintf("%s %d %s", units[l4%len(units)], l4, prov), unit)
	}
	return out
}

const directorySize = 111_000

func BenchmarkReplace111k(b *testing.B) {
	entries := generate(directorySize)
	d := mustOpen(b, nil)
	now := time.Now()
	for b.Loop() {
		if err := d.Replace(entries, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(entries)), "entries")
}

func BenchmarkApply1000Changes(b *testing.B) {
	entries := generate(directorySize)
	d := mustOpen(b, entries)
	changes := make([]Entry, 1000)
	for i := range changes {
		changes[i] = entries[i*100]
		changes[i].Name += " (đổi tên)"
	}
	now := time.Now()
	for b.Loop() {
		for i := range changes {
			changes[i].Version++
		}
		if err := d.Apply(changes, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen111k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "directory.db")
	d, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Replace(generate(directorySize), time.Now()); err != nil {
		b.Fatal(err)
	}
	d.Close()
	for b.Loop() {
		d, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

func BenchmarkLookup111k(b *testing.B) {
	entries := generate(directorySize)
	d := Load(entries, time.Now())
	i := 0
	for b.Loop() {
		if _, ok := d.Lookup(entries[i%len(entries)].Code); !ok {
			b.Fatal("not found")
		}
		i += 7919
	}
}

// BenchmarkSearch111k runs clerk-like queries (whole names, folded names,
// partial words, shuffled words) and reports the latency percentiles.
func BenchmarkSearch111k(b *testing.B) {
	entries := generate(directorySize)
	d := Load(entries, time.Now())
	queries := []string{
		"Sở Tài chính Hà Nội", "so tai chinh ha noi", "SỞ TÀI CHÍNH HÀ NỘI", "ha noi tai chinh",
		"UBND xã Tân Phú Nghệ An", "trung tam cong nghe thong tin da nang", "phong ke toan",
		"chi cuc thue", "so y", "giao duc dao tao thanh hoa", "t", "ubnd", "Văn phòng UBND Hải Phòng",
		"truong thpt nguyen trai", "doi quan ly thi truong quang ninh", "xyz không có",
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		d.Search(queries[i%len(queries)], 20)
		lat = append(lat, time.Since(t0))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
