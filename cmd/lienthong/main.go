// Command lienthong is the operator's tool for lienthong: it inspects,
// builds, signs and verifies edXML packages, checks agency identifier codes
// and queue files offline, and talks to a running gateway and to the axis.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is what --version prints; releases set it at link time.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// errReported marks a failure whose details were already printed (exit 1).
var errReported = errors.New("reported")

// usageError is a command line the tool could not understand: exit 2, with
// the error first and the command's usage after it.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func badUsage(c *cobra.Command, format string, a ...any) error {
	return &usageError{c, fmt.Errorf(format, a...)}
}

func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// env is what every command gets: its context and standard streams.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(longFlags(root, args))
	err := root.ExecuteContext(ctx)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errReported):
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n\n%s", ue.cmd.CommandPath(), ue.err, ue.cmd.UsageString())
	default:
		fmt.Fprintln(stderr, "lienthong:", err)
	}
	return err
}

const rootLong = `lienthong is the operator's tool for the lienthong document exchange
gateway. It works on edXML packages, agency identifier codes and queue files
offline, and talks to a running lienthongd and to the axis adapter.

Commands send, status, outbox, inbox, agencies and dir search/lookup talk to
a running lienthongd at --api or $LIENTHONG_API with the token in
$LIENTHONG_TOKEN (lienthongd -dev writes both to dev.env).

Flags may come before, between or after the arguments; "--" ends them.
Exit status: 0 done, 1 failed (the reason on stderr), 2 a command line the
tool could not read.`

const rootExample = `  lienthong envelope inspect docs/examples/cong-van.edxml
  lienthong send --metadata docs/examples/cong-van.json docs/examples/cong-van-152.pdf
  lienthong dev-ca /tmp/dev
  lienthong envelope verify --trust /tmp/dev/ca.pem signed.edxml`

// newRoot builds the command tree; every run gets a fresh one, so no flag
// value outlives its command line.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "lienthong",
		Short:         "operator tool for the lienthong document exchange gateway",
		Long:          rootLong,
		Example:       rootExample,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{c, err} })
	root.AddCommand(envelopeCmd(e), sendCmd(e), statusCmd(e), historyCmd(e), outboxCmd(e), inboxCmd(e), inboundCmd(e), agenciesCmd(e),
		dirCmd(e), queueCmd(e), evidenceCmd(e), doctorCmd(e), reportCmd(e), consoleCmd(e), axisCmd(e), devCACmd(e), benchCmd(e), manCmd(e))
	// A command of commands runs only to refuse a line: its usage shows
	// the commands, not a line of its own.
	// Flags a command takes from its parent (axis's connection, queue's
	// --db) are not global: say whose they are.
	root.SetUsageTemplate(strings.NewReplacer(
		"Usage:{{if .Runnable}}", `Usage:{{if and .Runnable (ne (index .Annotations "group") "yes")}}`,
		"Global Flags:", "Flags of {{.Parent.CommandPath}}:",
	).Replace(root.UsageTemplate()))
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Short = "show the help of any command"
		case "completion":
			c.Short = "print a shell completion script (bash, zsh, fish, powershell)"
			group(c)
		}
	}
	return group(root)
}

// group makes c a command of commands: named alone, or with a word that is
// none of them, it refuses the line and suggests the nearest command.
func group(c *cobra.Command) *cobra.Command {
	c.Annotations = map[string]string{"group": "yes"}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return badUsage(c, "a command is needed")
		}
		return noCommand(c, args)
	}
	return c
}

// noCommand refuses words after a command that runs alone but also has
// commands below it (outbox, inbox): they can only be a mistyped command.
func noCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		return badUsage(c, "unknown command %q; did you mean %q?", args[0], s[0])
	}
	return badUsage(c, "unknown command %q", args[0])
}

// nArgs accepts exactly n arguments; a refusal names those c's Use line shows.
func nArgs(n int) cobra.PositionalArgs {
	return argsBetween(n, n)
}

// argsBetween accepts from min to max arguments (max < 0: any number).
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		want := strings.TrimSpace(strings.TrimPrefix(c.Use, c.Name()))
		if want == "" {
			want = "no arguments"
		}
		return badUsage(c, "got %d argument(s), want %s", len(args), want)
	}
}

// values completes flag name of c with one of vals.
func values(c *cobra.Command, name string, vals ...string) {
	if err := c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp)); err != nil {
		panic(err) // a flag that does not exist: a mistake in this file's callers
	}
}

// longFlags lets "-name" stand for "--name", the form lienthongd's flags
// and older scripts use, when name is a flag of the command the line names.
func longFlags(root *cobra.Command, args []string) []string {
	c, _, err := root.Find(args)
	if err != nil {
		c = root
	}
	known := func(name string) bool {
		return name == "help" || c.LocalFlags().Lookup(name) != nil || c.InheritedFlags().Lookup(name) != nil
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			if name, _, _ := strings.Cut(a[1:], "="); len(name) > 1 && known(name) {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
