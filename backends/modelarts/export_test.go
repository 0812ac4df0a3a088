package modelarts

import "time"

// SetClock replaces the client's clock (IAM token expiry, AK/SK signing time).
// Call it before the first request.
func SetClock(c *Client, now func() time.Time) { c.now = now }
