using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// Calls a function method as the Functions worker does: the class built from DI for each invocation,
/// parameters bound from the trigger, route or blob-path values, and the cancellation token.
/// Everything reflection can tell once (how each parameter binds, how to call the method, how to read a
/// <c>Task&lt;T&gt;</c>'s result) is worked out here, not per request: this is every HTTP request's path.
/// </summary>
internal sealed class FunctionInvoker
{
    // One descriptor for every IActionResult the local host executes: results only read it, and MVC itself
    // shares one descriptor per action across requests.
    private static readonly ActionDescriptor SharedActionDescriptor = new();
    private static readonly MethodInfo ResultReaderDefinition = typeof(FunctionInvoker).GetMethod(nameof(ReadResult), BindingFlags.NonPublic | BindingFlags.Static)!;
    private readonly FunctionMethod _function;
    private readonly ObjectFactory? _factory;
    private readonly MethodInvoker _method;
    private readonly ParameterBinding[] _bindings;
    private readonly string?[] _bindingNames;
    private readonly Func<Task, object?>? _readResult;

    public FunctionInvoker(FunctionMethod function)
    {
        _function = function;
        _factory = function.Method.IsStatic ? null : ActivatorUtilities.CreateFactory(function.Type, Type.EmptyTypes);
        // MethodInvoker (unlike MethodInfo.Invoke) neither re-checks arguments on each call nor wraps what the
        // method throws in a TargetInvocationException.
        _method = MethodInvoker.Create(function.Method);
        var parameters = function.Method.GetParameters();
        _bindings = new ParameterBinding[parameters.Length];
        _bindingNames = new string?[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            if (parameter == function.TriggerParameter)
            {
                _bindings[i] = ParameterBinding.Trigger;
            }
            else if (parameter.ParameterType == typeof(CancellationToken))
            {
                _bindings[i] = ParameterBinding.CancellationToken;
            }
            else if (parameter.ParameterType == typeof(string))
            {
                _bindings[i] = ParameterBinding.Value;
                _bindingNames[i] = parameter.Name;
            }
            else
            {
                throw new NotSupportedException($"function '{function.Name}': the local host cannot bind parameter '{parameter.Name}' of type {parameter.ParameterType.Name}");
            }
        }

        var returnType = function.Method.ReturnType;
        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            _readResult = ResultReaderDefinition.MakeGenericMethod(returnType.GetGenericArguments()[0]).CreateDelegate<Func<Task, object?>>();
        }
    }

    private enum ParameterBinding
    {
        Trigger,
        CancellationToken,
        Value,
    }

    public string Name => _function.Name;

    /// <summary>Invokes the method; returns what it returned, awaited.</summary>
    public async Task<object?> InvokeAsync(IServiceProvider services, object trigger, Func<string, string?> bindingValue, CancellationToken cancellationToken)
    {
        var instance = _factory?.Invoke(services, null);
        try
        {
            object? returned;
            try
            {
                returned = Call(instance, trigger, bindingValue, cancellationToken);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                // Should MethodInvoker ever wrap, the function's own exception is what callers handle.
                ExceptionDispatchInfo.Throw(e.InnerException);
                throw;
            }

            switch (returned)
            {
                case Task task:
                    await task.ConfigureAwait(false);
                    return _readResult?.Invoke(task);
                case ValueTask valueTask:
                    await valueTask.ConfigureAwait(false);
                    return null;
                default:
                    return returned;
            }
        }
        finally
        {
            (instance as IDisposable)?.Dispose();
        }
    }

    /// <summary>Writes what an HTTP function returned to the response.</summary>
    public static Task WriteResultAsync(HttpContext context, object? result)
    {
        switch (result)
        {
            // First: our own results are both, and IResult needs no ActionContext or RouteData.
            case IResult httpResult:
                return httpResult.ExecuteAsync(context);
            case IActionResult action:
                return action.ExecuteResultAsync(new ActionContext(context, context.GetRouteData(), SharedActionDescriptor));
            case null:
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return Task.CompletedTask;
            default:
                throw new NotSupportedException($"the local host cannot write a result of type {result.GetType().Name}");
        }
    }

    private object? Call(object? instance, object trigger, Func<string, string?> bindingValue, CancellationToken cancellationToken)
    {
        // The fixed-arity overloads take the arguments without an array; functions here have at most four.
        switch (_bindings.Length)
        {
            case 0:
                return _method.Invoke(instance);
            case 1:
                return _method.Invoke(instance, Argument(0, trigger, bindingValue, cancellationToken));
            case 2:
                return _method.Invoke(instance, Argument(0, trigger, bindingValue, cancellationToken), Argument(1, trigger, bindingValue, cancellationToken));
            case 3:
                return _method.Invoke(instance, Argument(0, trigger, bindingValue, cancellationToken), Argument(1, trigger, bindingValue, cancellationToken), Argument(2, trigger, bindingValue, cancellationToken));
            case 4:
                return _method.Invoke(instance, Argument(0, trigger, bindingValue, cancellationToken), Argument(1, trigger, bindingValue, cancellationToken), Argument(2, trigger, bindingValue, cancellationToken), Argument(3, trigger, bindingValue, cancellationToken));
            default:
                var args = new object?[_bindings.Length];
                for (var i = 0; i < args.Length; i++)
                {
                    args[i] = Argument(i, trigger, bindingValue, cancellationToken);
                }

                return _method.Invoke(instance, args.AsSpan());
        }
    }

    private object? Argument(int index, object trigger, Func<string, string?> bindingValue, CancellationToken cancellationToken) => _bindings[index] switch
    {
        ParameterBinding.Trigger => trigger,
        ParameterBinding.CancellationToken => cancellationToken,
        _ => bindingValue(_bindingNames[index]!),
    };

    private static object? ReadResult<T>(Task task) => ((Task<T>)task).Result;
}
