package directory

import (
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// index is an immutable in-memory view of the directory; a sync builds a new
// one and swaps it in, so readers never see half a sync.
type index struct {
	byCode    map[Code]*Entry
	byID      map[string]Code
	children  map[Code][]Code // live entries by parent
	list      []*Entry        // live entries; postings point into it
	words     []string        // sorted distinct folded name words
	postings  [][]int32       // per word, ordinals into list
	nameLen   []int           // per ordinal, the name's length in characters
	nameWords [][]string      // per ordinal, the folded name's distinct words
	version   int64           // highest entry version seen
	synced    time.Time       // last good sync
}

func newIndex(entries []Entry, synced time.Time) *index {
	ix := &index{byCode: make(map[Code]*Entry, len(entries)), byID: map[string]Code{}, children: map[Code][]Code{}, synced: synced}
	for i := range entries {
		e := &entries[i]
		ix.byCode[Code(e.Code)] = e
		if e.ID != "" {
			ix.byID[e.ID] = Code(e.Code)
		}
		ix.version = max(ix.version, e.Version)
	}
	post := map[string][]int32{}
	for i := range entries {
		e := &entries[i]
		if e.Deleted {
			continue
		}
		n := int32(len(ix.list))
		ix.list = append(ix.list, e)
		ix.nameLen = append(ix.nameLen, utf8.RuneCountInString(e.Name))
		if p := ix.parentOf(e); p != "" {
			ix.children[p] = append(ix.children[p], Code(e.Code))
		}
		ws := uniqueWords(Fold(e.Name))
		ix.nameWords = append(ix.nameWords, ws)
		for _, w := range ws {
			post[w] = append(post[w], n)
		}
	}
	ix.words = make([]string, 0, len(post))
	for w := range post {
		ix.words = append(ix.words, w)
	}
	sort.Strings(ix.words)
	ix.postings = make([][]int32, len(ix.words))
	for i, w := range ix.words {
		ix.postings[i] = post[w]
	}
	for _, c := range ix.children {
		slices.Sort(c)
	}
	return ix
}

func uniqueWords(folded string) []string {
	ws := words(folded)
	slices.Sort(ws)
	return slices.Compact(ws)
}

// parentOf prefers the directory's explicit parent (an id or a code) over
// the one derived from the code, as real trees do not always follow the
// derivation rule.
func (ix *index) parentOf(e *Entry) Code {
	if e.Parent != "" && e.Parent != "0" {
		if c, ok := ix.byID[e.Parent]; ok && string(c) != e.Code {
			return c
		}
		if c, err := ParseCode(e.Parent); err == nil && string(c) != e.Code {
			return c
		}
	}
	return Code(e.Code).Parent()
}

// match is a search candidate: how many query words it holds whole.
type match struct {
	ord   int32
	whole int
}

// prefixRange is the range of ix.words starting with q.
func (ix *index) prefixRange(q string) (lo, hi int) {
	lo = sort.SearchStrings(ix.words, q)
	hi = lo
	for hi < len(ix.words) && strings.HasPrefix(ix.words[hi], q) {
		hi++
	}
	return lo, hi
}

// search finds live entries whose name has, for every query word, a word
// equal to it or starting with it. It walks the postings of the most
// selective query word only and checks each candidate's own words against
// the rest, keeping the best limit matches.
func (ix *index) search(query string, limit int) []*Entry {
	qs := uniqueWords(Fold(query))
	if len(qs) == 0 {
		return nil
	}
	bestLo, bestHi, bestN := 0, 0, -1
	for _, q := range qs {
		lo, hi := ix.prefixRange(q)
		n := 0
		for j := lo; j < hi; j++ {
			n += len(ix.postings[j])
		}
		if n == 0 {
			return nil
		}
		if bestN < 0 || n < bestN {
			bestLo, bestHi, bestN = lo, hi, n
		}
	}
	seen := make([]uint64, (len(ix.list)+63)/64)
	top := &topK{ix: ix, limit: limit, all: len(qs)}
	for j := bestLo; j < bestHi; j++ {
		for _, o := range ix.postings[j] {
			if seen[o/64]&(1<<(o%64)) != 0 {
				continue
			}
			seen[o/64] |= 1 << (o % 64)
			if whole, ok := matchWords(ix.nameWords[o], qs); ok {
				top.add(match{o, whole})
			}
		}
	}
	ms := top.sorted()
	out := make([]*Entry, len(ms))
	for i, m := range ms {
		out[i] = ix.list[m.ord]
	}
	return out
}

// matchWords reports whether every query word is a word of the name or
// starts one, and how many are whole words.
func matchWords(name, qs []string) (whole int, ok bool) {
	for _, q := range qs {
		found, isWhole := false, false
		for _, w := range name {
			if strings.HasPrefix(w, q) {
				found = true
				if len(w) == len(q) {
					isWhole = true
					break
				}
			}
		}
		if !found {
			return 0, false
		}
		if isWhole {
			whole++
		}
	}
	return whole, true
}

// topK keeps the best matches seen: every query word whole first, then by
// how many are whole, then shorter names, then code.
type topK struct {
	ix    *index
	limit int
	all   int // number of query words
	ms    []match
}

func (t *topK) less(a, b match) bool {
	fa, fb := a.whole == t.all, b.whole == t.all
	if fa != fb {
		return fa
	}
	if a.whole != b.whole {
		return a.whole > b.whole
	}
	la, lb := t.ix.nameLen[a.ord], t.ix.nameLen[b.ord]
	if la != lb {
		return la < lb
	}
	return t.ix.list[a.ord].Code < t.ix.list[b.ord].Code
}

// add keeps m if it is among the best limit; with no limit it keeps all.
// The slice is kept sorted only when it is full, so small limits cost an
// insertion per better match.
func (t *topK) add(m match) {
	if t.limit <= 0 || len(t.ms) < t.limit {
		t.ms = append(t.ms, m)
		if len(t.ms) == t.limit {
			sort.Slice(t.ms, func(i, j int) bool { return t.less(t.ms[i], t.ms[j]) })
		}
		return
	}
	last := len(t.ms) - 1
	if !t.less(m, t.ms[last]) {
		return
	}
	i := sort.Search(len(t.ms), func(i int) bool { return t.less(m, t.ms[i]) })
	copy(t.ms[i+1:], t.ms[i:last])
	t.ms[i] = m
}

func (t *topK) sorted() []match {
	sort.Slice(t.ms, func(i, j int) bool { return t.less(t.ms[i], t.ms[j]) })
	return t.ms
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Code, b.Code) })
}
