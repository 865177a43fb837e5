package workerapp

import (
	"errors"
	"strings"

	"go.temporal.io/api/serviceerror"
)

func isAlreadyExists(err error) bool {
	var ae *serviceerror.AlreadyExists
	return errors.As(err, &ae) || strings.Contains(err.Error(), "already exists")
}
