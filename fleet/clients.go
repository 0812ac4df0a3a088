package fleet

// Clients are a source's vendor clients, one per backend, in configuration
// order; a client is known by its backend name.
type Clients[C interface{ Name() string }] []C

// Names are the backends, in configuration order (Source.Backends).
func (cs Clients[C]) Names() []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name()
	}
	return out
}

// Get is the client of backend, or the zero C when there is none.
func (cs Clients[C]) Get(backend string) C {
	for _, c := range cs {
		if c.Name() == backend {
			return c
		}
	}
	var zero C
	return zero
}
