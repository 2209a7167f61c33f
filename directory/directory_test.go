package directory

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Sở Tài chính Hà Nội", "so tai chinh ha noi"},
		{"SỞ TÀI CHÍNH HÀ NỘI", "so tai chinh ha noi"},
		{"so tai chinh ha noi", "so tai chinh ha noi"},
		{"Đồng Tháp", "dong thap"},
		{"đường", "duong"},
		{"Thừa Thiên Huế", "thua thien hue"},
		{"Ủy ban nhân dân", "uy ban nhan dan"},
		{"Quảng Ngãi", "quang ngai"},
		{"Bà Rịa – Vũng Tàu", "ba ria – vung tau"},
		{"So\u0301 Ta\u0300i chi\u0301nh", "so tai chinh"}, // decomposed input
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

var testEntries = []Entry{
	{ID: "1", Code: "000.00.00.H26", Name: "UBND Thành phố Hà Nội", Version: 1},
	{ID: "2", Code: "000.00.07.H26", Name: "Sở Tài chính Hà Nội", Parent: "1", Version: 2},
	{ID: "3", Code: "000.00.08.H26", Name: "Sở Tài nguyên và Môi trường Hà Nội", Parent: "1", Version: 3},
	{ID: "4", Code: "000.00.00.H29", Name: "UBND Thành phố Hồ Chí Minh", Version: 4},
	{ID: "5", Code: "000.00.07.H29", Name: "Sở Tài chính Thành phố Hồ Chí Minh", Parent: "4", Version: 5},
	{ID: "6", Code: "000.00.00.G12", Name: "Bộ Tài chính", Version: 6},
	{ID: "7", Code: "000.01.07.H26", Name: "Phòng Ngân sách Sở Tài chính Hà Nội", Parent: "000.00.07.H26", Version: 7},
	{ID: "8", Code: "000.00.09.H26", Name: "Sở Tư pháp Hà Nội (cũ)", Parent: "1", Version: 8, Deleted: true},
	{ID: "9", Code: "001.00.10.H47", Name: "Trung tâm Hành chính công", Parent: "001.00.00.H47", Version: 9},
}

func mustOpen(tb testing.TB, entries []Entry) *Directory {
	tb.Helper()
	d, err := Open(filepath.Join(tb.TempDir(), "directory.db"), Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	if entries != nil {
		if err := d.Replace(entries, time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func codes(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Code)
	}
	return out
}

func TestSearchRanking(t *testing.T) {
	d := mustOpen(t, testEntries)
	tests := []struct {
		query string
		want  []string
	}{
		// Both spellings find the same entry first; whole words beat prefixes,
		// shorter names first.
		{"Sở Tài chính Hà Nội", []string{"000.00.07.H26", "000.01.07.H26"}},
		{"SỞ TÀI CHÍNH HÀ NỘI", []string{"000.00.07.H26", "000.01.07.H26"}},
		{"so tai chinh ha noi", []string{"000.00.07.H26", "000.01.07.H26"}},
		{"ha noi so tai chinh", []string{"000.00.07.H26", "000.01.07.H26"}},
		{"tai chinh", []string{"000.00.00.G12", "000.00.07.H26", "000.00.07.H29", "000.01.07.H26"}},
		// "ch" is only a prefix (of chính, Chí): one tier, shorter names first.
		{"tai ch", []string{"000.00.00.G12", "000.00.07.H26", "000.00.07.H29", "000.01.07.H26"}},
		// "chi" is whole in "Chí Minh", a prefix of "chính": whole-word
		// matches come first even though "Bộ Tài chính" is the shortest name.
		{"chi", []string{"000.00.00.H29", "000.00.07.H29", "000.00.00.G12", "000.00.07.H26", "001.00.10.H47", "000.01.07.H26"}},
		{"tai nguyen", []string{"000.00.08.H26"}},
		{"tư pháp", nil}, // deleted entries are not found
		{"xyz", nil},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, codes(d.Search(tt.query, 10))); diff != "" {
				t.Errorf("Search(%q) (-want +got):\n%s", tt.query, diff)
			}
		})
	}
	if got := d.Search("tai chinh", 2); len(got) != 2 {
		t.Errorf("limit 2 gave %d", len(got))
	}
}

func TestLookupChildrenPath(t *testing.T) {
	d := mustOpen(t, testEntries)
	if e, ok := d.Lookup("000.00.07.H26"); !ok || e.Name != "Sở Tài chính Hà Nội" {
		t.Errorf("Lookup = %+v, %v", e, ok)
	}
	if diff := cmp.Diff([]string{"000.00.07.H26", "000.00.08.H26"}, codes(d.Children("000.00.00.H26"))); diff != "" {
		t.Errorf("Children (-want +got):\n%s", diff)
	}
	// The explicit parent 001.00.00.H47 wins over the derived 000.00.10.H47.
	want := []Code{"001.00.10.H47", "001.00.00.H47", "000.00.00.H47"}
	if diff := cmp.Diff(want, d.Path("001.00.10.H47")); diff != "" {
		t.Errorf("Path (-want +got):\n%s", diff)
	}
	want = []Code{"000.01.07.H26", "000.00.07.H26", "000.00.00.H26"}
	if diff := cmp.Diff(want, d.Path("000.01.07.H26")); diff != "" {
		t.Errorf("Path (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	d := mustOpen(t, testEntries)
	synced := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	res, err := d.Resolve([]string{"000.00.07.H26", "000.00.00.G12"}, synced.Add(time.Hour))
	if err != nil || len(res.Entries) != 2 || res.Stale || res.Age != time.Hour {
		t.Fatalf("Resolve = %+v, %v", res, err)
	}
	_, err = d.Resolve([]string{"000.00.07.H26", "00.00.00.H41", "000.00.00.Z99", "000.00.09.H26"}, synced)
	var errs ResolveErrors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("Resolve = %v, want three errors", err)
	}
	want := `"00.00.00.H41" is not a 13-character identifier code; "000.00.00.Z99" is not in the agency directory; "000.00.09.H26" is removed from the agency directory`
	if err.Error() != want {
		t.Errorf("Resolve error = %q, want %q", err, want)
	}
	if !errors.Is(errs[1], ErrUnknown) || !errors.Is(errs[2], ErrDeleted) || !errors.Is(errs[0], ErrInvalidCode) || errs[2].Index != 3 {
		t.Errorf("errors not classified: %#v", errs)
	}
	res, err = d.Resolve([]string{"000.00.07.H26"}, synced.Add(8*24*time.Hour))
	if err != nil || !res.Stale {
		t.Errorf("a week-old directory: %+v, %v; want stale but resolved", res, err)
	}
}

// source is a Source over fixed data, failing on demand.
type source struct {
	all     []Entry
	changes []Entry
	fail    error
}

func (s *source) Agencies(context.Context) ([]Entry, error) { return s.all, s.fail }
func (s *source) Changes(_ context.Context, since int64) ([]Entry, error) {
	var out []Entry
	for _, e := range s.changes {
		if e.Version > since {
			out = append(out, e)
		}
	}
	return out, s.fail
}

func TestSyncAndPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory.db")
	d, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	src := &source{all: testEntries}
	rep, err := d.SyncFull(ctx, src, now)
	if err != nil || rep.Entries != len(testEntries) || d.Version() != 9 {
		t.Fatalf("SyncFull = %+v, %v, version %d", rep, err, d.Version())
	}
	src.changes = []Entry{
		{Code: "000.00.07.H26", Name: "Sở Tài chính Thành phố Hà Nội", Parent: "1", Version: 10},
		{Code: "000.00.00.G12", Name: "Bộ Tài chính", Version: 11, Deleted: true},
		{Code: "bad", Name: "x", Version: 12},
		{Code: "000.00.05.G22", Name: "Cục Kiểm soát thủ tục hành chính", Version: 3}, // not newer
	}
	rep, err = d.SyncChanges(ctx, src, now.Add(time.Hour))
	if err != nil || rep.Entries != 2 || len(rep.Refused) != 1 {
		t.Fatalf("SyncChanges = %+v, %v", rep, err)
	}
	if _, err := d.Resolve([]string{"000.00.00.G12"}, now); !errors.Is(err, ErrDeleted) {
		t.Errorf("a deleted change still resolves: %v", err)
	}
	// A failed sync leaves the directory as it was.
	src.fail = errors.New("axis unreachable")
	if _, err := d.SyncFull(ctx, src, now.Add(2*time.Hour)); err == nil {
		t.Fatal("SyncFull succeeded against a failing source")
	}
	if !d.LastSync().Equal(now.Add(time.Hour)) || d.Len() != 7 {
		t.Errorf("after a failed sync: last %v, %d entries", d.LastSync(), d.Len())
	}
	d.Close()

	d, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if e, ok := d.Lookup("000.00.07.H26"); !ok || e.Name != "Sở Tài chính Thành phố Hà Nội" || d.Version() != 11 {
		t.Errorf("after reopen: %+v %v version %d", e, ok, d.Version())
	}
}

func TestReadEntries(t *testing.T) {
	for _, in := range []string{
		`{"status":"OK","ErrorCode":"0","data":[{"id":17,"code":"000.00.07.H26","name":" Sở Tài chính ","pid":1,"mail":"a@b.vn"},{"id":"18","code":"x.y","name":"bad"}]}`,
		`[{"id":17,"code":"000.00.07.H26","name":"Sở Tài chính","pid":"1","mail":"a@b.vn","deleted":false,"version":"3"},{"code":"x.y"}]`,
		// One per line, as "lienthong axis agencies" prints them.
		"{\"id\":\"17\",\"code\":\"000.00.07.H26\",\"name\":\"Sở Tài chính\",\"pid\":\"1\"}\n{\"code\":\"x.y\"}\n",
	} {
		es, rep, err := ReadEntries(strings.NewReader(in))
		if err != nil || len(es) != 1 || es[0].ID != "17" || es[0].Parent != "1" || es[0].Name != "Sở Tài chính" || len(rep.Refused) != 1 {
			t.Errorf("ReadEntries(%s) = %+v, %+v, %v", in, es, rep, err)
		}
	}
	if _, _, err := ReadEntries(strings.NewReader(`{"status":"FAIL","ErrorDesc":"sai chữ ký"}`)); err == nil || !strings.Contains(err.Error(), "sai chữ ký") {
		t.Errorf("a FAIL answer: %v", err)
	}
	if _, _, err := ReadEntries(strings.NewReader("{\"code\":\"000.00.07.H26\"}\n{\"code\":")); err == nil || !strings.Contains(err.Error(), "value 2") {
		t.Errorf("a broken second line: %v", err)
	}
	var b strings.Builder
	if err := WriteEntries(&b, testEntries[:1]); err != nil {
		t.Fatal(err)
	}
	back, _, err := ReadEntries(strings.NewReader(b.String()))
	if err != nil || !cmp.Equal(back, testEntries[:1]) {
		t.Errorf("export then import: %+v, %v", back, err)
	}
}

// A deletion or a new parent of an agency we exchange with is held, not
// applied, and survives a restart until an operator accepts it; the same
// change of an agency we never exchanged with is applied.
func TestChangesOfPartnersHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory.db")
	d, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	src := &source{all: []Entry{
		{Code: "000.00.00.G22", Name: "Văn phòng Chính phủ", Version: 1},
		{Code: "000.00.00.G12", Name: "Bộ Tài chính", Version: 2},
		{Code: "000.00.00.H29", Name: "Hà Nam", Version: 3},
		{Code: "000.00.00.H30", Name: "Hải Dương", Version: 4},
	}}
	if _, err := d.SyncFull(ctx, src, now); err != nil {
		t.Fatal(err)
	}
	d.NotePartner("000.00.00.G22")
	d.NotePartner("000.00.00.G12")
	src.changes = []Entry{
		{Code: "000.00.00.G22", Name: "Văn phòng Chính phủ", Version: 5, Deleted: true},
		{Code: "000.00.00.G12", Name: "Bộ Tài chính", Parent: "000.00.00.H29", Version: 6},
		{Code: "000.00.00.H30", Name: "Hải Dương", Version: 7, Deleted: true},
		{Code: "000.00.00.H29", Name: "Tỉnh Hà Nam", Version: 8},
	}
	rep, err := d.SyncChanges(ctx, src, now.Add(time.Hour))
	if err != nil || rep.Entries != 2 || len(rep.Held) != 2 {
		t.Fatalf("SyncChanges = %+v, %v; want 2 applied, 2 held", rep, err)
	}
	if e, ok := d.Lookup("000.00.00.G22"); !ok || e.Deleted {
		t.Error("a partner's deletion was applied")
	}
	if e, _ := d.Lookup("000.00.00.G12"); e.Parent != "" {
		t.Errorf("a partner was moved under %s", e.Parent)
	}
	if e, _ := d.Lookup("000.00.00.H30"); !e.Deleted {
		t.Error("a non-partner's deletion was held")
	}
	d.Close()

	d, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	held, err := d.Held()
	if err != nil || len(held) != 2 || held[0].Was.Name == "" {
		t.Fatalf("held after a restart: %+v, %v", held, err)
	}
	// Partners are remembered too: the next forgery is held as well.
	src.changes = append(src.changes, Entry{Code: "000.00.00.G22", Name: "Văn phòng Chính phủ", Parent: "000.00.00.H29", Version: 9})
	if rep, _ := d.SyncChanges(ctx, src, now.Add(2*time.Hour)); len(rep.Held) == 0 {
		t.Errorf("after a restart a partner's change was applied: %+v", rep)
	}
	done, err := d.Accept([]string{"000.00.00.G12"}, now.Add(3*time.Hour))
	if err != nil || len(done) != 1 {
		t.Fatalf("Accept = %v, %v", done, err)
	}
	if e, _ := d.Lookup("000.00.00.G12"); e.Parent != "000.00.00.H29" {
		t.Error("an accepted change was not applied")
	}
	if held, _ := d.Held(); len(held) != 1 || held[0].Entry.Code != "000.00.00.G22" {
		t.Errorf("held after accepting G12: %+v", held)
	}
}

// A node that adopts another's snapshot holds the same entries, deleted
// ones included, and the same held changes; an older snapshot does not
// replace a newer directory.
func TestSnapshotAdopted(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	a := mustOpen(t, nil)
	src := &source{all: []Entry{
		{Code: "000.00.00.G22", Name: "Văn phòng Chính phủ", Version: 1},
		{Code: "000.00.00.H30", Name: "Hải Dương", Version: 2},
	}}
	if _, err := a.SyncFull(ctx, src, now); err != nil {
		t.Fatal(err)
	}
	a.NotePartner("000.00.00.G22")
	src.changes = []Entry{
		{Code: "000.00.00.G22", Version: 3, Deleted: true},
		{Code: "000.00.00.H30", Version: 4, Deleted: true},
	}
	if _, err := a.SyncChanges(ctx, src, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := mustOpen(t, []Entry{{Code: "000.00.00.H29", Name: "Hà Nam"}})
	if ok, err := b.Adopt(snap); !ok || err != nil {
		t.Fatalf("Adopt = %v, %v", ok, err)
	}
	if !b.LastSync().Equal(now.Add(time.Hour)) || b.Version() != a.Version() {
		t.Errorf("adopted directory synced %v version %d, want %v version %d", b.LastSync(), b.Version(), now.Add(time.Hour), a.Version())
	}
	if _, ok := b.Lookup("000.00.00.H29"); ok {
		t.Error("an entry the snapshot lacks was kept")
	}
	if e, ok := b.Lookup("000.00.00.H30"); !ok || !e.Deleted {
		t.Errorf("the deleted entry: %+v, %v", e, ok)
	}
	if held, _ := b.Held(); len(held) != 1 || held[0].Entry.Code != "000.00.00.G22" {
		t.Errorf("held changes adopted: %+v", held)
	}
	old, _ := mustOpen(t, nil).Snapshot()
	if ok, err := b.Adopt(old); ok || err != nil {
		t.Errorf("an older snapshot: Adopt = %v, %v", ok, err)
	}
}
