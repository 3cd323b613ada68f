module leasefence/kube-sim

go 1.19
