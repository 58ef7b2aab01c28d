package nodeapi

import (
	"math"
)

func buildGetNodeInfo(args []string, _ cliFlags) (string, any, error) {
	return MethodGetNodeInfo, GetNodeInfoParams{NodeID: args[0]}, nil
}

func buildQueryRoutes(args []string, flags cliFlags) (string, any, error) {
	amt, err := parseUint("amount_sat", args[1], math.MaxUint64)
	if err != nil {
		return "", nil, err
	}
	p := QueryRoutesParams{NodeID: args[0], AmountSat: amt}
	if v, ok := flags["final_cltv_delta"]; ok {
		d, err := parseUint("final_cltv_delta", v, math.MaxUint32)
		if err != nil {
			return "", nil, err
		}
		p.FinalCLTVDelta = uint32(d)
	}
	if v, ok := flags["fee_limit_sat"]; ok {
		limit, err := parseUint("fee_limit_sat", v, math.MaxUint64)
		if err != nil {
			return "", nil, err
		}
		p.FeeLimitSat = &limit
	}
	if v, ok := flags["max_paths"]; ok {
		n, err := parseUint("max_paths", v, math.MaxUint32)
		if err != nil {
			return "", nil, err
		}
		p.MaxPaths = uint32(n)
	}
	return MethodQueryRoutes, p, nil
}
