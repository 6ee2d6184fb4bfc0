// Command uploads uploads large files with the OpenAI Uploads API and serves
// that API locally; see the README.
package main

import (
	"os"

	"github.com/uploads-dev/uploads/internal/cli"
)

func main() { os.Exit(cli.Main()) }
