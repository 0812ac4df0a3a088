package web

// The vendored browser files under assets/graphiql/, with the Subresource
// Integrity hash the page carries for each. They are the unmodified npm
// builds that gqlgen v0.17.95's playground page loads from jsDelivr by
// default (same versions; same bytes except the explorer CSS, see
// fetch-assets.sh). fetch-assets.sh re-downloads and verifies them with these
// same hashes; web_test.go checks the embedded bytes against them.
//
// To bump a version: edit the table in fetch-assets.sh, run it with --write,
// then update the paths and hashes here.
const (
	graphiqlJS     = "graphiql/graphiql-4.1.2/graphiql.min.js"
	graphiqlJSSRI  = "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B"
	graphiqlCSS    = "graphiql/graphiql-4.1.2/graphiql.min.css"
	graphiqlCSSSRI = "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr"

	reactJS       = "graphiql/react-18.2.0/react.production.min.js"
	reactJSSRI    = "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"
	reactDOMJS    = "graphiql/react-dom-18.2.0/react-dom.production.min.js"
	reactDOMJSSRI = "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"

	explorerJS     = "graphiql/plugin-explorer-4.0.6/index.umd.js"
	explorerJSSRI  = "sha384-gXYG2RCFRuAiKUaKTbKxOVlvr0U9z0D/V/l5jdvRSH46vQ+9cpkG2d3ByiggUYvD"
	explorerCSS    = "graphiql/plugin-explorer-4.0.6/style.css"
	explorerCSSSRI = "sha384-XffIsImDMwexX8UM/Bg3tss0MZOeQmZcnHzk0avUrw9ff0IQ2g9j7QLA6m2lz5D0"
)

// pinned lists every file the page may reference, with its SRI hash.
var pinned = map[string]string{
	graphiqlJS:  graphiqlJSSRI,
	graphiqlCSS: graphiqlCSSSRI,
	reactJS:     reactJSSRI,
	reactDOMJS:  reactDOMJSSRI,
	explorerJS:  explorerJSSRI,
	explorerCSS: explorerCSSSRI,
}
