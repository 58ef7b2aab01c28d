package nodeapi

import (
	"context"
	"fmt"
	"io"
)

// webUIDetails is the help text of the webui command, beyond its summary.
const webUIDetails = `The URL holds a login token that works once, within 2 minutes: opening it in a browser on this
machine exchanges it for a session cookie (24 hours) and shows the page: balances, channels, peers,
payments, invoices and the node's live events, with forms to connect, open and close channels,
make and pay invoices. The page is served on the control API's loopback address only; without a
session it answers 401. Run webui again for a new login.`

// runWebUI mints a login token with the cookie and prints the login URL, then one line on it.
func runWebUI(ctx context.Context, client *Client, stdout, stderr io.Writer) int {
	res, err := client.WebLogin(ctx)
	if err != nil {
		printError(stderr, err)
		return 1
	}
	if _, err := fmt.Fprintf(stdout, "%s\n%s\n", res.URL,
		"open this URL in a browser on this machine within 2 minutes to log in to the node's web page (it works once)"); err != nil {
		printError(stderr, err)
		return 1
	}
	return 0
}
