package main

import (
	"encoding/json"
	"fmt"

	"lienthong/directory"
)

const dirUsage = `Usage:
  lienthong dir SUBCOMMAND [args]

Subcommands:
%s
Example:
  lienthong dir parse 000.00.07.H26
`

func runDir(e *env, args []string) error {
	return dispatch(e, "lienthong dir", dirUsage, []command{
		{"parse", "check an identifier code and show its level and parent", runDirParse},
	}, args)
}

const dirParseUsage = `Usage:
  lienthong dir parse CODE

Checks an agency identifier code (mã định danh, NNN.NN.NN.XNN) and prints
{"code","level","parent","group"} as JSON. An invalid code exits 1 with the
broken rule on stderr.

Example:
  $ lienthong dir parse 000.00.07.H26
  {"code":"000.00.07.H26","level":2,"parent":"000.00.00.H26","group":"H"}
`

func runDirParse(e *env, args []string) error {
	fs := newFlags(e, "dir parse", dirParseUsage)
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	c, err := directory.ParseCode(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("identifier code %w", err)
	}
	out := struct {
		Code   string `json:"code"`
		Level  int    `json:"level"`
		Parent string `json:"parent"`
		Group  string `json:"group"`
	}{string(c), c.Level(), string(c.Parent()), string(c.Group())}
	return json.NewEncoder(e.stdout).Encode(out)
}
