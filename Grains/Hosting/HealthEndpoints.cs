namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// The HTTP paths that orchestrators and load balancers probe, the same on silos and gateways. The Kubernetes manifests
/// and the Dockerfiles' HEALTHCHECKs name them; tests/Integration.Tests/Deploy checks that they name no other.
/// </summary>
public static class HealthEndpoints
{
    /// <summary>Liveness: the process answers. Failing it gets the process restarted.</summary>
    public const string Liveness = "/healthz";

    /// <summary>Readiness: the process can do its work now (a gateway reaches a silo; a silo has joined and its database answers).</summary>
    public const string Readiness = "/readyz";
}
