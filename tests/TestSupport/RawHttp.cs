using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// One HTTP/1.1 connection written as raw bytes: HttpClient repairs or refuses malformed framing headers,
/// and cannot show what a server does with bytes after a request on the same connection.
/// </summary>
public sealed partial class RawHttp : IDisposable
{
    private readonly Socket _socket;
    private readonly StringBuilder _received = new();

    private RawHttp(Socket socket) => _socket = socket;

    /// <summary>Everything read so far, as Latin-1.</summary>
    public string Received => _received.ToString();

    /// <summary>The status code of every response read so far, in order.</summary>
    public IReadOnlyList<int> Statuses => [.. StatusLine().Matches(Received).Select(m => int.Parse(m.Groups[1].Value))];

    public static async Task<RawHttp> ConnectAsync(Uri baseAddress)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, baseAddress.Port);
        return new RawHttp(socket);
    }

    public async Task SendAsync(string ascii) => await SendAsync(Encoding.ASCII.GetBytes(ascii));

    public async Task SendAsync(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent));
        }
    }

    /// <summary>Reads until the first response's header section is complete; false if the deadline passed first.</summary>
    public Task<bool> ReadResponseHeadAsync(TimeSpan timeout) =>
        ReadUntilAsync(() => Received.Contains("\r\n\r\n", StringComparison.Ordinal), timeout);

    /// <summary>
    /// Reads until the server closes the connection (end of stream or reset); false if it was still open
    /// at the deadline.
    /// </summary>
    public Task<bool> ReadToCloseAsync(TimeSpan timeout) => ReadUntilAsync(() => false, timeout);

    public void Dispose() => _socket.Dispose();

    private async Task<bool> ReadUntilAsync(Func<bool> done, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var buffer = new byte[64 * 1024];
        while (!done())
        {
            int count;
            try
            {
                count = await _socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                // A server that closes with unread request bytes sends a reset; what it sent before is already read.
                return true;
            }

            if (count == 0)
            {
                return true;
            }

            _received.Append(Encoding.Latin1.GetString(buffer, 0, count));
        }

        return true;
    }

    // Not anchored to a line start: a body with Content-Length runs straight into the next status line.
    [GeneratedRegex(@"HTTP/1\.1 (\d{3}) ")]
    private static partial Regex StatusLine();
}
