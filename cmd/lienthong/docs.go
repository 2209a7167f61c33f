package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// The manual pages and shell completions come from the command tree
// itself, the same one that parses the command line, so they cannot drift
// from what the tool accepts.

const manLong = `Writes the manual pages into DIR, made from the command tree: lienthong(1)
and one page per command (lienthong-envelope-sign(1) and so on). The date
is SOURCE_DATE_EPOCH's when it is set, for reproducible packages.`

const manExample = `  lienthong man /usr/local/share/man/man1
  man lienthong-envelope-sign`

func manCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "man DIR", Short: "write the manual pages, one per command",
		Long: manLong, Example: manExample, Args: nArgs(1)}
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := os.MkdirAll(args[0], 0o755); err != nil {
			return err
		}
		root := c.Root()
		root.DisableAutoGenTag = true
		header := &doc.GenManHeader{Section: "1", Source: "lienthong " + version, Manual: "lienthong manual"}
		if err := doc.GenManTree(root, header, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "man: pages written to %s\n", args[0])
		return nil
	}
	return c
}
