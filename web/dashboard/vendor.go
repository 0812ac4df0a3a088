package dashboard

// The vendored charting library under assets/vendor/, with the Subresource
// Integrity hash the page carries for each file. They are uPlot 1.6.32's
// unmodified npm builds; fetch-assets.sh re-downloads and verifies them with
// these same hashes, and dashboard_test.go checks the embedded bytes against
// them, so a hand edit of a vendored file fails the tests.
//
// To bump the version: edit the table in fetch-assets.sh, run it with
// --write, then update the paths and hashes here.
const (
	uplotJS     = "vendor/uplot-1.6.32/uPlot.iife.min.js"
	uplotJSSRI  = "sha384-Gx3t0zdBAuQOuvvmaLZj7HKEiSgWTAs+VdtNY7wt19QDPTDQjFIwAuXDj0zeN00c"
	uplotCSS    = "vendor/uplot-1.6.32/uPlot.min.css"
	uplotCSSSRI = "sha384-IfV0B7MIOYuO95kO9G5ySKPz/85zqFNOAs8iy4tkK5zd9izhJAB8b7lHrwYqqmYE"
)

// pinned lists every vendored file the page references, with its SRI hash.
var pinned = map[string]string{
	uplotJS:  uplotJSSRI,
	uplotCSS: uplotCSSSRI,
}
