package fleet

import "errors"

// ErrMetricsNotConfigured says a backend could serve a metrics field only
// with configuration it does not have (a ModelArts backend without its
// aom: block): the field answers an empty list beside an error with
// extensions.code METRICS_NOT_CONFIGURED, not a silent empty list.
var ErrMetricsNotConfigured = errors.New("metrics not configured")
