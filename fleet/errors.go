package fleet

import (
	"errors"
	"fmt"

	"github.com/fleetgraph/fleetgraph/backends"
)

var errEmptyBackendName = errors.New("every backend needs a name")

type duplicateBackendError struct{ name string }

func (e *duplicateBackendError) Error() string {
	return fmt.Sprintf("backend name %q is used twice: names must be unique across Run:ai and ModelArts", e.name)
}

// BackendError ties a failure to the backend it came from, so that the error
// presenter can always name the provider, whatever the underlying error.
type BackendError struct {
	Backend  string
	Provider backends.Provider
	Err      error
}

func (e *BackendError) Error() string { return e.Err.Error() }
func (e *BackendError) Unwrap() error { return e.Err }

// Wrap ties err to backend (nil stays nil; an error already tied stays as is).
func Wrap(p backends.Provider, backend string, err error) error {
	if err == nil {
		return nil
	}
	var be *BackendError
	if errors.As(err, &be) {
		return err
	}
	return &BackendError{Backend: backend, Provider: p, Err: err}
}

// NotFoundError says an object named by a well-formed ID does not exist.
type NotFoundError struct {
	What string // "node", "node pool", "cluster", "backend"
	Name string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.What, e.Name) }

// Is makes NotFoundError match backends.ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == backends.ErrNotFound }
