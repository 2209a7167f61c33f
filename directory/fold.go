package directory

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold lowers case and removes Vietnamese diacritics, so "SỞ TÀI CHÍNH HÀ
// NỘI", "Sở Tài chính Hà Nội" and "so tai chinh ha noi" compare equal. Text
// already decomposed (combining marks) folds the same as precomposed text.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a tone or vowel mark
		case r == 'đ' || r == 'Đ':
			b.WriteByte('d')
		default:
			b.WriteRune(unicode.ToLower(r))
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
