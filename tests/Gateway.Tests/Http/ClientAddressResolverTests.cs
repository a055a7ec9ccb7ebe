using System.Net;
using Chihaya.Orleans.Gateway.Http;
using Chihaya.Orleans.Gateway.Options;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Tests.Http;

public sealed class ClientAddressResolverTests
{
    private const string Proxy = "127.0.0.1";

    [Theory]
    // The right-most entry no trusted proxy wrote: the client as the proxy saw it.
    [InlineData("198.51.100.7, 127.0.0.2", "198.51.100.7")]
    // A proxy that appends the client with its port (as some cloud load balancers do).
    [InlineData("6.6.6.6, 203.0.113.9:51234", "203.0.113.9")]
    [InlineData("6.6.6.6, [2001:db8::5]:443", "2001:db8::5")]
    [InlineData("6.6.6.6, 2001:db8::5", "2001:db8::5")]
    // An entry that is no address: what lies left of it is the client's own say, so only the proxy is known.
    [InlineData("6.6.6.6, not-an-address", Proxy)]
    [InlineData("6.6.6.6, unknown, 127.0.0.2", Proxy)]
    public void Resolve_BehindATrustedProxy_TakesTheForwardedClient(string forwardedFor, string expected)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(Proxy);
        context.Request.Headers["X-Forwarded-For"] = forwardedFor;

        var resolved = Resolver("127.0.0.0/8").Resolve(context);

        Assert.Equal(IPAddress.Parse(expected), resolved);
    }

    [Fact]
    public void Resolve_FromAnUntrustedSender_IgnoresItsHeaders()
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.10");
        context.Request.Headers["X-Forwarded-For"] = "198.51.100.7";
        context.Request.Headers["X-Real-IP"] = "198.51.100.8";

        Assert.Equal(IPAddress.Parse("192.0.2.10"), Resolver("127.0.0.0/8").Resolve(context));
    }

    [Theory]
    // An untrusted sender is held by its own address, whatever forwarding headers it sends (else any client could
    // escape its count by adding one).
    [InlineData("192.0.2.10", "198.51.100.7", "192.0.2.10")]
    // The client a trusted proxy named.
    [InlineData(Proxy, "198.51.100.7", "198.51.100.7")]
    // A trusted proxy that named no client, and loopback: no single client's.
    [InlineData("10.0.0.5", null, null)]
    [InlineData("127.0.0.2", null, null)]
    [InlineData("::ffff:127.0.0.1", null, null)]
    public void SingleClient_IsTheAddressToCountUnknownPasskeysAgainst(string sender, string? forwardedFor, string? expected)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(sender);
        if (forwardedFor is not null)
        {
            context.Request.Headers["X-Forwarded-For"] = forwardedFor;
        }

        var resolver = Resolver("127.0.0.0/8", "10.0.0.0/8");

        Assert.Equal(expected is null ? null : IPAddress.Parse(expected), resolver.SingleClient(resolver.Resolve(context)));
    }

    private static ClientAddressResolver Resolver(params string[] trustedProxies) => new(new OptionsMonitor<GatewayOptions>(
        new OptionsFactory<GatewayOptions>([new ConfigureOptions<GatewayOptions>(options => options.TrustedProxies = trustedProxies)], []),
        [],
        new OptionsCache<GatewayOptions>()));
}
