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
	byCode   map[Code]*Entry
	byID     map[string]Code
	children map[Code][]Code // live entries by parent
	list     []*Entry        // live entries; postings point into it
	words    []string        // sorted distinct folded name words
	postings [][]int32       // per word, ordinals into list
	nameLen  []int           // per ordinal, the name's length in characters
	version  int64           // highest entry version seen
	synced   time.Time       // last good sync
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
		for _, w := range uniqueWords(Fold(e.Name)) {
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

// match is a search candidate: how many query words matched whole words.
type match struct {
	ord   int32
	exact int
}

// search finds live entries whose name has, for every query word, a word
// equal to it or starting with it.
func (ix *index) search(query string, limit int) []*Entry {
	qs := uniqueWords(Fold(query))
	if len(qs) == 0 {
		return nil
	}
	var cand map[int32]int // ordinal → query words matched as whole words
	for _, q := range qs {
		hits := map[int32]bool{} // ordinal → matched q as a whole word
		i := sort.SearchStrings(ix.words, q)
		for j := i; j < len(ix.words) && strings.HasPrefix(ix.words[j], q); j++ {
			whole := ix.words[j] == q
			for _, o := range ix.postings[j] {
				if cand != nil {
					if _, ok := cand[o]; !ok {
						continue
					}
				}
				hits[o] = hits[o] || whole
			}
		}
		next := make(map[int32]int, len(hits))
		for o, whole := range hits {
			next[o] = cand[o]
			if whole {
				next[o]++
			}
		}
		cand = next
		if len(cand) == 0 {
			return nil
		}
	}
	ms := make([]match, 0, len(cand))
	for o, n := range cand {
		ms = append(ms, match{o, n})
	}
	// Every word whole first, then prefix matches; shorter names first.
	sort.Slice(ms, func(a, b int) bool {
		ea, eb := ms[a].exact == len(qs), ms[b].exact == len(qs)
		if ea != eb {
			return ea
		}
		if ms[a].exact != ms[b].exact {
			return ms[a].exact > ms[b].exact
		}
		la, lb := ix.nameLen[ms[a].ord], ix.nameLen[ms[b].ord]
		if la != lb {
			return la < lb
		}
		return ix.list[ms[a].ord].Code < ix.list[ms[b].ord].Code
	})
	if limit > 0 && len(ms) > limit {
		ms = ms[:limit]
	}
	out := make([]*Entry, len(ms))
	for i, m := range ms {
		out[i] = ix.list[m.ord]
	}
	return out
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Code, b.Code) })
}
