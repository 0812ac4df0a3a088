// Package specfuzz holds the spec-driven fuzz test of the vendor decoders
// (fuzz_test.go): random answers drawn from the vendors' OpenAPI documents
// go through the real Run:ai and ModelArts clients. It has no other code.
package specfuzz
