package runai

import "time"

// SetClock replaces the clock of c's token cache. Call it before c is used.
func SetClock(c *Client, now func() time.Time) {
	if c.tokens != nil {
		c.tokens.Now = now
	}
}
