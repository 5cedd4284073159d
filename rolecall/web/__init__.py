"""Front door 1, HTTP: parse, authorize, call a service, render. No SQL, no provider logic."""
