package mapping

import "strings"

// Name is a person's name split the way OroCRM's contact builder does.
// Missing parts are "" and are stored as NULL by callers.
type Name struct{ Prefix, First, Middle, Last, Suffix string }

// NamePrefixes and NameSuffixes are OroCRM's name_prefix.yml and
// name_suffix.yml (spec §4.4). Matching against them is exact and
// case-sensitive, after removing one trailing dot from the candidate.
var (
	NamePrefixes = []string{"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Master", "Atty", "Rev", "Prof"}
	NameSuffixes = []string{"Jr", "Sr", "Jnr", "III", "II", "IV", "V", "C.S.V", "CSV", "PMP", "P.M.P",
		"RA", "R.A", "JD", "J.D", "MD", "M.D", "PhD", "Ph.D", "BA", "B.A", "BSc", "B.Sc", "MA", "M.A",
		"MSc", "M.Sc", "MBA", "M.B.A"}
)

// maxNamePieces reproduces preg_split's limit of 5: the fifth piece keeps the
// rest of the name verbatim, inner whitespace included, which is why a suffix
// after the fifth word is never recognised.
const maxNamePieces = 5

// SplitName parses a Zendesk user's name as spec §4.4 describes, quirks
// included, so contacts created here look like the ones OroCRM created.
// A single word is used as both first and last name because the CRM requires
// a last name.
func SplitName(full string) Name {
	pieces := splitWhitespace(full, maxNamePieces)
	var n Name
	if len(pieces) == 0 {
		return n
	}
	if len(pieces) > 2 && isNameAffix(NamePrefixes, pieces[0]) {
		n.Prefix = pieces[0]
		pieces = pieces[1:]
	}
	if len(pieces) > 2 && isNameAffix(NameSuffixes, pieces[len(pieces)-1]) {
		n.Suffix = pieces[len(pieces)-1]
		pieces = pieces[:len(pieces)-1]
	}
	n.First = pieces[0]
	switch {
	case len(pieces) > 2:
		n.Middle = pieces[1]
		n.Last = strings.Join(pieces[2:], " ")
	case len(pieces) == 2:
		n.Last = pieces[1]
	default:
		n.Last = pieces[0]
	}
	return n
}

func isNameAffix(list []string, piece string) bool {
	return Known(list, strings.TrimSuffix(piece, "."))
}

// isPCRESpace is PCRE's \s without the u flag, the class OroCRM splits on;
// using it for trimming too keeps non-ASCII spaces inside names as PHP did.
func isPCRESpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// splitWhitespace trims s and splits it on runs of whitespace into at most
// limit pieces, the last one keeping the remainder untouched.
func splitWhitespace(s string, limit int) []string {
	s = strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && isPCRESpace(byte(r)) })
	if s == "" {
		return nil
	}
	var out []string
	for len(out) < limit-1 {
		i := strings.IndexFunc(s, func(r rune) bool { return r < 0x80 && isPCRESpace(byte(r)) })
		if i < 0 {
			break
		}
		out = append(out, s[:i])
		j := i
		for j < len(s) && isPCRESpace(s[j]) {
			j++
		}
		s = s[j:] // s was trimmed, so something non-space follows
	}
	return append(out, s)
}
