package directory

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldTable maps each precomposed Latin letter (Latin-1 Supplement to Latin
// Extended Additional, where all Vietnamese letters live) to its lower-case
// base letter. Built once from Unicode decomposition.
var foldTable = func() map[rune]rune {
	t := map[rune]rune{'đ': 'd', 'Đ': 'd'}
	for r := rune(0xC0); r <= 0x1EFF; r++ {
		if r > 0x24F && r < 0x1E00 {
			continue
		}
		base, _ := utf8.DecodeRuneInString(norm.NFD.String(string(r)))
		if l := unicode.ToLower(base); l != r && l < 0x80 {
			t[r] = l
		}
	}
	return t
}()

// Fold lowers case and removes Vietnamese diacritics, so "SỞ TÀI CHÍNH HÀ
// NỘI", "Sở Tài chính Hà Nội" and "so tai chinh ha noi" compare equal. Text
// already decomposed (combining marks) folds the same as precomposed text.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < 0x80:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case unicode.Is(unicode.Mn, r):
			// a combining tone or vowel mark
		default:
			if f, ok := foldTable[r]; ok {
				b.WriteRune(f)
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
		}
	}
	return b.String()
}

// words splits folded text into words on anything that is not a letter or
// a digit.
func words(folded string) []string {
	return strings.FieldsFunc(folded, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
