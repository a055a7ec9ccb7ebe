using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Tests.Announce;

/// <summary>Gateway options that never change, for a piece of the gateway built without a host.</summary>
internal sealed class StaticGatewayOptions(GatewayOptions value) : IOptionsMonitor<GatewayOptions>
{
    public GatewayOptions CurrentValue => value;

    public GatewayOptions Get(string? name) => value;

    public IDisposable? OnChange(Action<GatewayOptions, string?> listener) => null;
}
