using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>
/// Request smuggling: a body length that two HTTP parsers (a proxy in front and the tracker) could read
/// differently is refused with 400 and a closed connection, so a request hidden after the body is never answered.
/// </summary>
[Collection(TrackerCollection.Name)]
public sealed class RequestFramingTests(TrackerFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    // Asks to close, so a server that wrongly answers it also ends the exchange without waiting for the deadline.
    private const string Hidden = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    public static TheoryData<string, string> AmbiguousFraming() => new()
    {
        { "Content-Length: +5\r\n", "xxxxx" },
        { "Content-Length: -0\r\n", "" },
        { "Content-Length: 5, 6\r\n", "xxxxx" },
        { "Content-Length: 5\r\nContent-Length: 6\r\n", "xxxxx" },
        { "Content-Length: 0x5\r\n", "xxxxx" },
        { "Transfer-Encoding: xchunked\r\n", "0\r\n\r\n" },
        { "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n" },
        { "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" },
        { "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n" },
        { "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(AmbiguousFraming))]
    public async Task AmbiguousBodyLength_Gets400AndTheConnectionCloses(string headers, string body)
    {
        using var connection = await RawHttp.ConnectAsync(fixture.Host.BaseAddress);

        await connection.SendAsync($"GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\n{body}{Hidden}");

        Assert.True(await connection.ReadToCloseAsync(Deadline), $"connection still open; received: {connection.Received}");
        Assert.Equal([400], connection.Statuses);
    }

    [Theory]
    [InlineData("Content-Length: 0\r\n", "")]
    [InlineData("Content-Length:  5 \r\n", "xxxxx")]
    [InlineData("Transfer-Encoding: Chunked\r\n", "5\r\nxxxxx\r\n0\r\n\r\n")]
    public async Task PlainBodyLength_IsServedAndTheConnectionStaysUsable(string headers, string body)
    {
        using var connection = await RawHttp.ConnectAsync(fixture.Host.BaseAddress);

        await connection.SendAsync($"GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\n{body}{Hidden}");

        Assert.True(await connection.ReadToCloseAsync(Deadline), $"connection still open; received: {connection.Received}");
        Assert.Equal([200, 200], connection.Statuses);
    }
}
