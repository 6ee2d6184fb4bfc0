package check

import (
	"fmt"
	"io"
)

func ExampleChecker() {
	c := New("fine-tune", "train.jsonl", 0)
	io.WriteString(c, "{\"messages\":[]}\n{\"messages\":[],}\n")
	if err := c.Close(); err != nil {
		fmt.Println(err)
		fmt.Println("hint:", err.(*Error).Hint())
	}
	// Output:
	// train.jsonl: line 2: invalid character '}' looking for beginning of object key string (purpose fine-tune expects a JSONL file: one JSON object per line)
	// hint: fix line 2, or pass --no-check to send it anyway
}
