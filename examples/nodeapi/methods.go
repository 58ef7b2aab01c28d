package nodeapi

import "sort"

// MethodNames returns the name of every method the Server serves (the JSON-RPC "method" values),
// sorted. Other APIs over the same Service (the node's gRPC API) check against it that they offer
// every method. The slice is new at each call: the caller may change it.
func MethodNames() []string {
	names := make([]string, 0, len(methods))
	for name := range methods {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
