namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// Counts the grain calls a silo takes that match a predicate (registered as an <see cref="IIncomingGrainCallFilter"/>
/// in the silo's services), so a test can assert what a request or a period cost in calls.
/// </summary>
public sealed class GrainCallCounter(Func<IIncomingGrainCallContext, bool> counts) : IIncomingGrainCallFilter
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Reset() => Interlocked.Exchange(ref _count, 0);

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (counts(context))
        {
            Interlocked.Increment(ref _count);
        }

        return context.Invoke();
    }
}
