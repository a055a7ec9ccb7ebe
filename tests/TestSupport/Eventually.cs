namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// Waits for something that happens asynchronously (a timer's work, a flush, another process) by polling a
/// condition until a deadline. The deadline is generous and only bounds a failing test: a passing test
/// returns as soon as the condition holds, so nothing depends on how fast the machine is.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan PollDelay = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Reads <paramref name="read"/> until <paramref name="condition"/> holds and returns that value, or the last one
    /// read at the deadline. A longer <paramref name="pollDelay"/> suits a costly read, such as hashing a large file.
    /// </summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan? deadline = null, TimeSpan? pollDelay = null)
    {
        var until = DateTime.UtcNow + (deadline ?? DefaultDeadline);
        var value = await read();
        while (!condition(value) && DateTime.UtcNow < until)
        {
            await Task.Delay(pollDelay ?? PollDelay);
            value = await read();
        }

        return value;
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test with <paramref name="what"/> at the deadline.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? deadline = null, TimeSpan? pollDelay = null)
    {
        var held = await ValueAsync(condition, static holds => holds, deadline, pollDelay);
        Assert.True(held, $"not seen before the deadline: {what}");
    }

    /// <summary>
    /// Waits as <see cref="TrueAsync(Func{Task{bool}}, string, TimeSpan?, TimeSpan?)"/>, and at the deadline fails with
    /// what <paramref name="describe"/> reads of the state then, on the message's first line: CI logs keep only a
    /// failure's first line in their summary, and a rare failure must say why from that line alone.
    /// </summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, string what, Func<Task<string>> describe, TimeSpan? deadline = null)
    {
        if (await ValueAsync(condition, static holds => holds, deadline))
        {
            return;
        }

        string state;
        try
        {
            state = await describe();
        }
        catch (Exception exception)
        {
            state = $"(the state could not be read: {exception.GetType().Name}: {exception.Message})";
        }

        Assert.Fail($"not seen before the deadline: {what}; state: {state.ReplaceLineEndings(" ")}");
    }
}
