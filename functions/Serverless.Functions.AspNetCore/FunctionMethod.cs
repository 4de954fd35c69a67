using System.Reflection;
using Microsoft.Azure.Functions.Worker;

namespace Serverless.Functions.AspNetCore;

/// <summary>A <c>[Function]</c> method found in a function app's assembly, with its trigger attribute.</summary>
internal sealed record FunctionMethod(string Name, Type Type, MethodInfo Method, ParameterInfo TriggerParameter, Attribute Trigger)
{
    /// <summary>Finds every function method of an assembly, as the Functions SDK's metadata generator does.</summary>
    public static List<FunctionMethod> Discover(Assembly assembly)
    {
        var result = new List<FunctionMethod>();
        foreach (var type in assembly.GetExportedTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
            {
                if (method.GetCustomAttribute<FunctionAttribute>() is not { } function)
                {
                    continue;
                }

                foreach (var parameter in method.GetParameters())
                {
                    var trigger = (Attribute?)parameter.GetCustomAttribute<HttpTriggerAttribute>() ?? parameter.GetCustomAttribute<BlobTriggerAttribute>();
                    if (trigger is not null)
                    {
                        result.Add(new FunctionMethod(function.Name, type, method, parameter, trigger));
                        break;
                    }
                }
            }
        }

        return result;
    }
}
