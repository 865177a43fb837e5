package mapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitName(t *testing.T) {
	tests := []struct {
		name, in string
		want     Name
	}{
		// The §4.4 table, row by row.
		{"§4.4 row Mr. Bob Miller Jr.", "Mr. Bob Miller Jr.", Name{Prefix: "Mr.", First: "Bob", Last: "Miller", Suffix: "Jr."}},
		{"§4.4 row Mr. Alex M. Smith Jr.", "Mr. Alex M. Smith Jr.", Name{Prefix: "Mr.", First: "Alex", Middle: "M.", Last: "Smith", Suffix: "Jr."}},
		{"§4.4 row tabs", "Mr\tAlex\tM.\tSmith\tJr", Name{Prefix: "Mr", First: "Alex", Middle: "M.", Last: "Smith", Suffix: "Jr"}},
		{"§4.4 row Dr Alex Jnr. (2 pieces remain after prefix)", "Dr Alex Jnr.", Name{Prefix: "Dr", First: "Alex", Last: "Jnr."}},
		{"§4.4 row Dr Jnr. (2 pieces: no prefix)", "Dr Jnr.", Name{First: "Dr", Last: "Jnr."}},
		{"§4.4 row unknown prefix and suffix", "TestPrefix. Alex M. Smith Test_Suffix.", Name{First: "TestPrefix.", Middle: "Alex", Last: "M. Smith Test_Suffix."}},
		{"§4.4 row ␣␣Alex␣␣␣", "  Alex   ", Name{First: "Alex", Last: "Alex"}},
		// Rules of §4.4 beyond the table.
		{"§4.4 step 1 mixed whitespace runs", " \tJohn \t\n Smith\r\n", Name{First: "John", Last: "Smith"}},
		{"§4.4 step 1 fifth piece keeps the remainder verbatim", "A B C D E  F\tG", Name{First: "A", Middle: "B", Last: "C D E  F\tG"}},
		{"§4.4 step 1 suffix inside the remainder is not seen", "A B C D E Jr.", Name{First: "A", Middle: "B", Last: "C D E Jr."}},
		{"§4.4 step 1 prefix then remainder", "Mr. A B C D\t E", Name{Prefix: "Mr.", First: "A", Middle: "B", Last: "C D\t E"}},
		{"§4.4 step 5 more than 3 pieces join with single spaces", "Mrs Anna  Maria\tde Souza", Name{Prefix: "Mrs", First: "Anna", Middle: "Maria", Last: "de Souza"}},
		{"§4.4 step 2 prefix needs more than 2 pieces", "Mr Smith", Name{First: "Mr", Last: "Smith"}},
		{"§4.4 step 3 suffix needs more than 2 pieces after prefix", "Prof Alan PhD", Name{Prefix: "Prof", First: "Alan", Last: "PhD"}},
		{"§4.4 step 3 suffix without prefix", "Alan Turing PhD", Name{First: "Alan", Last: "Turing", Suffix: "PhD"}},
		{"§4.4 step 4 dotted suffix list entry", "Jane Doe Ph.D.", Name{First: "Jane", Last: "Doe", Suffix: "Ph.D."}},
		{"§4.4 step 4 list entry with inner dots matched as is", "Jane Doe C.S.V", Name{First: "Jane", Last: "Doe", Suffix: "C.S.V"}},
		{"§4.4 step 4 only one trailing dot removed", "Mr.. Bob Miller", Name{First: "Mr..", Middle: "Bob", Last: "Miller"}},
		{"§4.4 step 4 case-sensitive prefix", "mr Bob Miller", Name{First: "mr", Middle: "Bob", Last: "Miller"}},
		{"§4.4 step 4 case-sensitive suffix", "Bob Miller jr", Name{First: "Bob", Middle: "Miller", Last: "jr"}},
		{"§4.4 step 5 two pieces", "Bob Miller", Name{First: "Bob", Last: "Miller"}},
		{"§4.4 single word is first and last", "Cher", Name{First: "Cher", Last: "Cher"}},
		{"§4.4 prefix and suffix only leave one", "Dr Bob Jr", Name{Prefix: "Dr", First: "Bob", Last: "Jr"}},
		{"§4.4 all prefixes/suffixes with 5 pieces", "Dr Mr Bob Jr Sr", Name{Prefix: "Dr", First: "Mr", Middle: "Bob", Last: "Jr", Suffix: "Sr"}},
		{"§4.4 non-ASCII name", "Zoë Ådne Ørsted", Name{First: "Zoë", Middle: "Ådne", Last: "Ørsted"}},
		{"§4.4 non-breaking space is not a separator (PCRE \\s)", "Jean\u00a0Luc Picard", Name{First: "Jean\u00a0Luc", Last: "Picard"}},
		{"§4.3 empty name gives nothing", "", Name{}},
		{"§4.3 blank name gives nothing", " \t ", Name{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, SplitName(tc.in))
		})
	}
}
