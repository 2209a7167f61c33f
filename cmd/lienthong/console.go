package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

const consoleLong = `Prints a one-time link to the daemon's web console (POST /v1/console/link).
Opened in a browser within 5 minutes, once, it starts a session lasting a
working day with the rights of the token used here: a token scoped to some
agencies opens a console that shows only theirs. PATH is the page to land
on, /ui/ (the overview) by default, e.g. /ui/documents/out-0000000042 or
/ui/reports?month=2026-11.

The console is served on the local API's listener: from another machine,
reach it through an SSH tunnel (ssh -L 8490:127.0.0.1:8490 host) or the
API's TLS listener, and open the link there.`

func consoleCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "console [PATH]", Short: "print a one-time link that opens the web console",
		Long: consoleLong, Args: cobra.MaximumNArgs(1),
		Example: "  lienthong console\n  lienthong console /ui/reports"}
	api := addAPIFlags(c.Flags())
	c.RunE = func(_ *cobra.Command, args []string) error {
		path := "/ui/"
		if len(args) == 1 {
			path = args[0]
		}
		cl, err := api.client()
		if err != nil {
			return err
		}
		l, err := cl.ConsoleLink(e.ctx, path)
		if err != nil {
			return apiError(e, err)
		}
		fmt.Fprintln(e.stdout, l.URL)
		fmt.Fprintf(e.stderr, "open it within 5 minutes (until %s); it works once\n", local(l.Expires))
		return nil
	}
	return c
}
