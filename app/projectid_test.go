package app

import "testing"

func TestIsProjectID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"0a1b2c3d4e5f60718293a4b5c6d7e8f9": true, "proj-1": true,
		"": false, "..": false, "a/b": false, "a b": false, "a\r\n": false,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": false, // 65
	} {
		if got := isProjectID(s); got != want {
			t.Errorf("isProjectID(%q) = %v, want %v", s, got, want)
		}
	}
}
