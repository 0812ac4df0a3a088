// Package specfuzz draws random vendor answers from the vendors' OpenAPI
// documents (Gen, over kin-openapi schemas) for the spec-driven fuzz tests:
// fuzz_test.go sends them through the real Run:ai and ModelArts clients,
// and tests/ through the whole gateway. It is test support: nothing in the
// gateway imports it.
package specfuzz
