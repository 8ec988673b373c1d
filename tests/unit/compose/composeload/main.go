// composeload loads Compose files with compose-go, the loader Docker Compose itself uses, and
// prints the resolved project as JSON: interpolation (.env), YAML merge keys, overrides and
// the Compose Specification's validation, without a Docker engine.
//
//	go run . <project dir> <compose file> [override file ...]
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: composeload DIR FILE [FILE ...]")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(os.Args[2:],
		cli.WithWorkingDirectory(os.Args[1]),
		cli.WithEnvFiles(),
		cli.WithDotEnv,
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	project, err := cli.ProjectFromOptions(context.Background(), options)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
