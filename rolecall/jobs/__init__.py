"""Front door 2: background work arriving from the queue. Each job is as thin as a route."""
