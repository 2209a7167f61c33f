package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lienthong/gateway/localapi"
)

// addOutput is a list command's -o: table on a terminal, JSON otherwise
// or when asked.
func addOutput(c *cobra.Command) *string {
	o := c.Flags().StringP("output", "o", "", "table or json (default: table on a terminal, else json)")
	values(c, "output", "table", "json")
	return o
}

// list prints a list call's result for a person or a program.
func list(e *env, api apiFlags, format string, f func(*localapi.Client) (any, error)) error {
	cl, err := api.client()
	if err != nil {
		return err
	}
	v, err := f(cl)
	if err != nil {
		return apiError(e, err)
	}
	if format == "json" || format == "" && !terminal(e.stdout) {
		return printJSON(e, v)
	}
	return table(e.stdout, v)
}

// table writes a list as aligned columns, one line each.
func table(w io.Writer, v any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch l := v.(type) {
	case []localapi.Document:
		fmt.Fprintln(tw, "ID\tSTATE\tCREATED\tTO\tSUBJECT")
		for _, d := range l {
			var to []string
			for _, r := range d.Recipients {
				to = append(to, r.OrganID+" "+cutString(cmp.Or(r.StatusCode, "-"), 4))
			}
			state := d.State
			if d.LastError != "" && (d.State == localapi.StateRetry || d.State == localapi.StateDead) {
				state += ": " + cutString(d.LastError, 40)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, state, d.Created.Local().Format(time.DateTime), strings.Join(to, ", "), cutString(d.Subject, 60))
		}
		if len(l) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
	case []localapi.InboxItem:
		fmt.Fprintln(tw, "ID\tSTATE\tRECEIVED\tFROM\tTO\tSUBJECT")
		for _, it := range l {
			state := it.State
			if it.StatusCode != "" {
				state += " " + it.StatusCode
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, state, it.Received.Local().Format(time.DateTime), it.From, it.Agency, cutString(it.Subject, 60))
		}
		if len(l) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
	case []localapi.ServedAgency:
		fmt.Fprintln(tw, "CODE\tNAME\tKEY\tCERTIFICATE UNTIL\tQUEUED")
		for _, a := range l {
			until := "-"
			if a.NotAfter != nil {
				until = fmt.Sprintf("%s (%d days)", a.NotAfter.Local().Format(time.DateOnly), int(time.Until(*a.NotAfter).Hours()/24))
			}
			code := a.Code
			if a.Units {
				code += "/*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", code, a.Name, a.Key, until, a.Queued)
		}
	case []localapi.InboundProblem:
		return problemsTable(w, l)
	default:
		return jsonOut(w).Encode(v)
	}
	return tw.Flush()
}

// cutString shortens s to n runes for a column.
func cutString(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
